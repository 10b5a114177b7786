// Logs never carry raw arguments or tokens (issue 13): real calls with known secret values,
// through the real proxy and gate, with real MCP servers and the official SDK client, every log
// line captured (pino at trace, the gate's, the proxy's and the trail's logger) and the audit
// trail read back: none of the values appears in either, while the calls were decided, logged
// and recorded (so the grep is not over nothing). Each value is one redaction must catch: a
// secret-named key (password, api_key) or a detector's shape; a passphrase in a free-text field
// of no recognisable shape is not caught (docs/compliance.md says so).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../authorizer/src/audit/index.ts';
import { verifyAuditFile } from '../../authorizer/src/audit/verify.ts';
import { connectClient, rawPost, startRig, type Rig } from './proxy-support.ts';

const logLines: string[] = [];
const sink = new Writable({ write(chunk: Buffer, _enc, done) { logLines.push(...chunk.toString().split('\n').filter((l) => l !== '')); done(); } });
const log = pino({ level: 'trace' }, sink);

const secrets = {
  password: 'correct-horse-battery-staple-7Q',
  apiKey: 'sk_live_4eC39HqLyjWDarjtT1zdp7dc',
  awsKey: 'AKIAZZQQEXAMPLE12345',
  email: 'dana.subject@example.com',
  card: '4111 1111 1111 1111',
  iban: 'DE89370400440532013000',
};

let rig: Rig;
let trail: AuditTrail;
let file: string;
let token: string;

beforeAll(async () => {
  file = join(mkdtempSync(join(tmpdir(), 'toolgate-audit-logs-')), 'audit.jsonl');
  trail = await AuditTrail.open({ file, log, fsync: false, instance: 'authorizer-logs' });
  rig = await startRig({ log }, { log, onDecision: (r) => trail.record(r), onRefusal: (r) => trail.recordRefusal(r) });
  token = await rig.token();
});

afterAll(async () => {
  await rig?.close();
  await trail?.close();
});

describe('logs and the audit trail', () => {
  it('carry none of the secret argument values or the token of real calls through the proxy', async () => {
    const { client } = await connectClient(rig.proxy.url, token);
    try {
      // Allowed: the upstream echoes the values back to the client, which is the client's business.
      const echoed = await client.callTool({ name: 'everything__echo', arguments: { message: `mail ${secrets.email} card ${secrets.card} iban ${secrets.iban}`, password: secrets.password } });
      expect(JSON.stringify(echoed.content)).toContain(secrets.email);
      // Denied (the profile's classifier sees the AWS key) and held (approval required, none configured).
      await expect(client.callTool({ name: 'mirror__echo', arguments: { message: `key ${secrets.awsKey}`, api_key: secrets.apiKey } })).rejects.toThrow(/no-secrets/);
      await expect(client.callTool({ name: 'everything__get-tiny-image', arguments: { credentials: { password: secrets.password } } })).rejects.toThrow(/images-need-approval/);
    } finally {
      await client.close();
    }
    // A forged token (the real one with its signature changed) is refused; it is not logged either.
    const forged = `${token.slice(0, -6)}AAAAAA`;
    const refused = await rawPost(rig.proxy.url, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } }, { authorization: `Bearer ${forged}` });
    expect(refused.status).toBe(401);
    await trail.flush();

    const trailText = readFileSync(file, 'utf8');
    // Not a grep over nothing: three decisions logged and recorded, and the refusals recorded.
    expect(logLines.filter((l) => l.includes('"tools/call decided"'))).toHaveLength(3);
    const types = trailText.trim().split('\n').map((l) => (JSON.parse(l) as { type: string }).type);
    expect(types.filter((t) => t === 'decision')).toHaveLength(3);
    expect(types.filter((t) => t === 'refusal').length).toBeGreaterThanOrEqual(3);
    expect(await verifyAuditFile(file)).toMatchObject({ ok: true });

    const signature = token.split('.')[2]!;
    const values = { ...secrets, token, signature, forged, cardDigits: secrets.card.replace(/ /g, '') };
    const leaks = Object.entries(values).flatMap(([name, v]) => [
      ...logLines.filter((l) => l.includes(v)).map((l) => `log line carries ${name}: ${l.slice(0, 200)}`),
      ...(trailText.includes(v) ? [`audit trail carries ${name}`] : []),
    ]);
    expect(leaks).toEqual([]);
    expect(logLines.length).toBeGreaterThan(10);
  });
});
