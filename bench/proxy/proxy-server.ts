// The proxy side of bench/proxy/overhead.ts, in its own process as in a pod: the rig's gate and
// proxy (policy, tool catalog, JWT verification) and a second gate over the same policy with the
// audit trail and info-level logs wired as authorizer.ts wires them. overhead.ts starts it with
// the StatefulSet's node flags, NODE_OPTIONS, allocator and policy workers, so the client's
// garbage collections and the proxy's are no longer one process's pauses. Prints one JSON line
// ({"direct","proxied","shipped","token"}) once serving; SIGTERM closes it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { AuditTrail } from '../../authorizer/src/audit/index.ts';
import { Gate } from '../../authorizer/src/gate/index.ts';
import { createTokenVerifier } from '../../authorizer/src/identity/index.ts';
import { startMcpProxy } from '../../authorizer/src/proxy/index.ts';
import { startRig } from '../../test/integration/proxy-support.ts';

const rig = await startRig();
const dir = mkdtempSync(join(tmpdir(), 'toolgate-bench-proxy-'));
const log = pino({ level: 'silent' });
// Logs as shipped: one JSON line per decision at info (written synchronously, as pino's stdout is here to a file).
const shippedLog = pino({ level: 'info' }, pino.destination({ dest: join(dir, 'authorizer.log'), sync: true }));
const trail = await AuditTrail.open({ file: join(dir, 'audit.jsonl'), log, registry: new Registry(), fsync: true, instance: 'bench' });
const identity = rig.router.servers().find((s) => s.entry.gateway?.identity)!.entry.gateway!.identity!;
const verifier = createTokenVerifier(identity, {});
const auditedGate = new Gate({
  router: rig.router, log: shippedLog, catalog: rig.catalog,
  authenticate: (r) => verifier.verify(r.authorization, { url: r.url }),
  onDecision: (r) => trail.record(r),
  onRefusal: (r) => trail.recordRefusal(r),
  onResponse: (e) => trail.recordResponse(e),
});
const auditedProxy = await startMcpProxy({ gate: auditedGate, log: shippedLog });
const token = await rig.token();
process.stdout.write(`${JSON.stringify({ direct: rig.everything.url, proxied: rig.proxy.url, shipped: auditedProxy.url, token })}\n`);
process.once('SIGTERM', () => {
  void (async () => {
    await auditedProxy.close();
    await trail.close();
    await rig.close();
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  })();
});
