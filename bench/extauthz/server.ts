// One ext_authz server for the benchmark, in its own process so the load generator does not
// share its event loop. Modes: `empty` (the floor: same gRPC server, protos and serialisation,
// Check answers OK without authenticating or deciding), `decide` (the real Check with a fixed
// caller: parse + gate + response), `jwt` (the real Check with JWT verification by the
// identity module against the issuer given in TOOLGATE_BENCH_ISSUER, a JSON Identity patch).
// Prints {"port":N} once serving.
import { pino } from 'pino';
import { okResponse, startExtAuthzServer } from '../../authorizer/src/extauthz/index.ts';
import { compileFixture, loadFixtureRouter } from '../../test/support/extauthz.ts';
import { Gate, PolicyRouter } from '../../authorizer/src/gate/index.ts';
import { anyNameCatalog } from '../../test/support/any-name-catalog.ts';
import { defaultWorkerCount, policyWorkerPoolFor } from '../../pkg/policy/pool/index.ts';
import { benchCaller } from './workload.ts';

const mode = process.argv[2];
if (mode !== 'empty' && mode !== 'decide' && mode !== 'jwt') throw new Error(`usage: server.ts empty|decide|jwt (got ${mode})`);
const log = pino({ level: 'warn' });
const identity = mode === 'jwt' ? (JSON.parse(process.env.TOOLGATE_BENCH_ISSUER ?? '{}') as Record<string, string>) : undefined;
// Decisions spread over worker threads as the shipped binary does (AUTHORIZER_WORKERS, default one
// fewer than the cores this process may use — 0 under `taskset -c 0`, so the 1-core row stays
// in-process, and 1 on 2 cores).
const workers = Number(process.env.AUTHORIZER_WORKERS ?? defaultWorkerCount());
const pool = policyWorkerPoolFor(workers, log);
const router = await loadFixtureRouter(compileFixture(identity), 'rev-1', new PolicyRouter(pool ? { pool } : {}));
// jwt: the gate's own authentication (the policy's identity); otherwise a fixed caller. The gate
// decides only tools a catalog lists: without one every call is refused as "catalog unavailable"
// (which is what this bench measured before the catalog was passed). No upstream runs here, so
// the catalog lists every name without annotations, as an upstream listing them would.
const gate = new Gate({ router, log, ready: () => true, catalog: anyNameCatalog, ...(mode === 'jwt' ? {} : { authenticate: async () => benchCaller }) });
const server = await startExtAuthzServer({
  port: 0, host: '127.0.0.1', log, gate,
  ...(mode === 'empty' ? { handler: async () => okResponse(undefined, undefined) } : {}),
});
process.stdout.write(`${JSON.stringify({ port: server.port, workers: pool ? workers : 0 })}\n`);
process.once('SIGTERM', () => void server.close().then(() => pool?.close()).then(() => process.exit(0)));
