// resources/*, prompts/get, completion/complete and logging/setLevel through the Envoy ext_authz
// gRPC front end (official Envoy protos, real policy.wasm, real JWTs): the route names the
// server, and the gate decides each from the request alone by URI pattern or prompt name.
// The decision-table policy's own rules (written for tools, no kinds) keep governing tools only.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExtAuthzServer, type CheckResponse, type ExtAuthzServer } from '../../authorizer/src/extauthz/index.ts';
import { Gate, PolicyRouter } from '../../authorizer/src/gate/index.ts';
import type { RefusalRecord } from '../../authorizer/src/gate/outcome.ts';
import type { DecisionRecord } from '../../authorizer/src/gate/decision-path.ts';
import { compilePolicy } from '../../pkg/policy/compiler/index.ts';
import { fixturePolicy, fixtureProfiles } from '../../pkg/policy/engine/testdata/load.ts';
import { startJwtIssuer, type TestIssuer } from '../harness/jwt-issuer.ts';
import { anyNameCatalog } from '../support/any-name-catalog.ts';
import { authorizationClient, checkOnce, envoyCheckRequest, loadFixtureRouter, toolsCall, type EnvoyRequest } from '../support/extauthz.ts';

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
let issuer: TestIssuer;
let server: ExtAuthzServer;
let client: ReturnType<typeof authorizationClient>;
let token: string;
const decisions: DecisionRecord[] = [];
const refusals: RefusalRecord[] = [];

const send = (r: EnvoyRequest) => checkOnce(client, envoyCheckRequest({ server: 'gmail', ...r, headers: { authorization: `Bearer ${token}`, ...r.headers } }));
const rpc = (method: string, params: Record<string, unknown>, id: number | string = 1) => ({ jsonrpc: '2.0', id, method, params });

function denied(res: CheckResponse) {
  expect(res.ok_response).toBeUndefined();
  return JSON.parse(res.denied_response!.body) as { id: unknown; error: { code: number; message: string; data?: { rule?: string; decisionId?: string } } };
}

beforeAll(async () => {
  issuer = await startJwtIssuer({ audience: 'https://gateway.example.com/mcp' });
  const policy = fixturePolicy();
  policy.spec.identity = { ...policy.spec.identity!, issuer: issuer.issuer, jwksUri: issuer.jwksUri, audience: issuer.audience };
  policy.spec.policies = [
    ...(policy.spec.policies ?? []),
    { name: 'deny-mail-archive', priority: 1, when: { resources: ['mail://archive/*'] }, action: 'deny' },
    { name: 'allow-mail-inbox', priority: 2, when: { resources: ['mail://inbox/*'], servers: ['gmail'] }, action: 'allow' },
    { name: 'allow-summarise', priority: 3, when: { prompts: ['summarise_thread'] }, action: 'allow' },
  ];
  const { data, problems } = compilePolicy(policy, fixtureProfiles());
  expect(problems).toEqual([]);
  const router = await loadFixtureRouter(data!, 'rev-ops', new PolicyRouter());
  server = await startExtAuthzServer({
    port: 0, host: '127.0.0.1', log,
    gate: new Gate({ router, log, catalog: anyNameCatalog, onDecision: (r) => decisions.push(r), onRefusal: (r) => refusals.push(r) }),
  });
  client = authorizationClient(server.port);
  token = await issuer.mint({ sub: 'alice', azp: 'agent-1', scope: 'norg:contacts:read' });
}, 120_000);

afterAll(async () => {
  await server?.close();
  await issuer?.close();
});

describe('ext_authz Check: resources decided by URI pattern', () => {
  it('allows a read, subscribe and unsubscribe of an allowed URI, with the decision id upstream', async () => {
    for (const method of ['resources/read', 'resources/subscribe', 'resources/unsubscribe']) {
      const res = await send({ body: rpc(method, { uri: 'mail://inbox/123' }) });
      expect(res.status.code, method).toBe(0);
      const id = res.ok_response!.headers.find((h) => h.header.key === 'x-toolgate-decision-id')?.header.value;
      expect(decisions.find((d) => d.verdict.decisionId === id)?.call, method).toMatchObject({ server: 'gmail', operation: { kind: 'resource', method, target: 'mail://inbox/123' } });
    }
  });

  it('denies a URI a deny rule matches, naming the rule, and audits the refusal with the target', async () => {
    const d = denied(await send({ body: rpc('resources/read', { uri: 'mail://archive/2019/7' }, 'r-1') }));
    expect(d).toMatchObject({ id: 'r-1', error: { code: -31001, data: { rule: 'deny-mail-archive' } } });
    expect(refusals.at(-1)).toMatchObject({ frontEnd: 'ext_authz', method: 'resources/read', server: 'gmail', target: 'mail://archive/2019/7', decisionId: d.error.data!.decisionId });
  });

  it('keeps old rules to tools: a read no resource rule names falls to the deny default', async () => {
    // The fixture's tool rules include allow rules with only tool conditions; none applies here.
    expect(denied(await send({ body: rpc('resources/read', { uri: 'mail://drafts/1' }) })).error.data).toMatchObject({ rule: 'toolgate:default' });
    // ...and they still decide tools as before.
    expect((await send({ body: toolsCall('read_email', { id: '1' }) })).status.code).toBe(0);
  });

  it('refuses a URI that is not canonical before deciding, so no spelling escapes the deny pattern', async () => {
    for (const uri of ['mail://inbox/../archive/1', 'MAIL://archive/1', 'mail://inbox/%2E%2E/archive/1', 'mail://Inbox/1', 'mail://inbox//1', 'mail://inbox/1#x', 'mail://inbox/1 ', 'mail://user@inbox/1']) {
      const d = denied(await send({ body: rpc('resources/read', { uri }) }));
      expect(d.error.code, uri).toBe(-32602);
      expect(d.error.message, uri).toContain('is not a canonical URI');
    }
  });

  it('lets listings through (Envoy never shows the response, so ext_authz cannot filter them)', async () => {
    for (const method of ['resources/list', 'resources/templates/list', 'prompts/list']) {
      expect((await send({ body: rpc(method, {}) })).status.code, method).toBe(0);
    }
  });
});

describe('ext_authz Check: prompts, completion and logging', () => {
  it('allows prompts/get of a named prompt and denies others by the default', async () => {
    expect((await send({ body: rpc('prompts/get', { name: 'summarise_thread', arguments: { id: '1' } }) })).status.code).toBe(0);
    expect(denied(await send({ body: rpc('prompts/get', { name: 'exfiltrate' }) })).error.data).toMatchObject({ rule: 'toolgate:default' });
    expect(denied(await send({ body: rpc('prompts/get', { name: 'summarise_thread\u200b' }) })).error.code).toBe(-32602);
  });

  it('decides completion/complete as a read of its ref', async () => {
    const complete = (ref: Record<string, unknown>) => rpc('completion/complete', { ref, argument: { name: 'id', value: '1' } });
    expect((await send({ body: complete({ type: 'ref/prompt', name: 'summarise_thread' }) })).status.code).toBe(0);
    expect((await send({ body: complete({ type: 'ref/resource', uri: 'mail://inbox/{id}' }) })).status.code).toBe(0);
    expect(denied(await send({ body: complete({ type: 'ref/resource', uri: 'mail://archive/{id}' }) })).error.data).toMatchObject({ rule: 'deny-mail-archive' });
  });

  it('decides logging/setLevel as the logging kind: no rule names it, so the deny default refuses it', async () => {
    expect(denied(await send({ body: rpc('logging/setLevel', { level: 'debug' }) })).error.data).toMatchObject({ rule: 'toolgate:default' });
  });
});
