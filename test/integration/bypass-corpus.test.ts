// Issue 10's closing corpus: at least 10 000 generated malformed, confusable and oversized
// requests (deterministic seed) through BOTH front ends — the real ext_authz gRPC server (official
// Envoy protos) with a loopback forwarder that sends allowed requests' original bytes upstream as
// Envoy would, and the real MCP proxy — in front of a real `server-everything` behind an upstream
// tap that records every body reaching it, with the real audit trail writing to a file. Asserted
// and printed: refused calls reaching the upstream, decisions/refusals without an audit record,
// crashes (process errors, unhandled rejections, 5xx other than the documented unavailable).
import { mkdtempSync, readFileSync } from 'node:fs';
import { Agent, request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail, verifyAuditFile } from '../../authorizer/src/audit/index.ts';
import { startExtAuthzServer, type ExtAuthzServer } from '../../authorizer/src/extauthz/index.ts';
import { ErrorCodes } from '../../authorizer/src/gate/index.ts';
import { authorizationClient, checkOnce, envoyCheckRequest } from '../support/extauthz.ts';
import { startEnvoyForwarder, type EnvoyForwarder } from '../support/envoy-forwarder.ts';
import { rng } from '../support/prng.ts';
import { startRig, type Rig } from './proxy-support.ts';

const caseCount = Number(process.env.CORPUS_CASES ?? 10_000);
/** Tools a decided call may reach without waiting on the client (sampling, elicitation, roots) or on a timer. */
const quick = new Set(['echo', 'get-annotated-message', 'get-env', 'get-resource-links', 'get-resource-reference', 'get-structured-content', 'get-sum', 'get-tiny-image']);
const maxBodyBytes = 64 * 1024;
const log = pino({ level: 'silent' });


interface Case {
  kind: string;
  /** The body for a front end: `prefix` is "" for ext_authz (the route names the server), "mirror__" for the proxy. */
  body: (prefix: string, marker: string) => string;
  /** Must be refused by both front ends. */
  mustRefuse: boolean;
  method?: string;
  /** ext_authz: extra headers (Envoy's joined form); proxy: header lines (arrays repeat). */
  extHeaders?: Record<string, string>;
  proxyHeaders?: Record<string, string | string[]>;
  only?: 'ext' | 'proxy';
  /** Text that must reach the upstream as written when the call is allowed (numbers' digits). */
  verbatim?: string;
}

const q = (s: string) => JSON.stringify(s);
const call = (name: string, args: string, marker: string, extra = '') => `{"jsonrpc":"2.0","id":${q(marker)},"method":"tools/call"${extra},"params":{"name":${q(name)},"arguments":${args}}}`;
const withMarker = (marker: string, inner = '') => `{"corpus":${q(marker)}${inner ? `,${inner}` : ''}}`;

function nameVariants(name: string, r: () => number): string[] {
  const at = Math.floor(r() * (name.length + 1));
  const insert = (s: string) => name.slice(0, at) + s + name.slice(at);
  const swapE = name.replace('e', '\u0435'); // Cyrillic е
  return [
    `${name} `, ` ${name}`, `${name}\t`, `${name}\n`, `${name}\u00a0`, name.toUpperCase(), name[0]!.toUpperCase() + name.slice(1),
    name.replaceAll('-', '_'), name.replaceAll('-', ''), `${name}\u0000`, insert('\u200b'), insert('\u200c'), insert('\u200d'),
    insert('\ufeff'), insert('\u2060'), insert('\u202e'), insert('\u2066'), insert('\u00ad'), `${name}\u0301`, swapE,
    name.replace(/[a-z]/, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)), `mirror__${name}`, `everything__${name}`, `${name}/`, `./${name}`,
  ].filter((v) => v !== name);
}

function nested(depth: number, marker: string): string {
  return `${'{"a":'.repeat(depth - 1)}${withMarker(marker)}${'}'.repeat(depth - 1)}`;
}

function buildCorpus(listed: string[], seed: number): Case[] {
  const r = rng(seed);
  // Confusable names cover every listed tool (all refused); calls that may be decided use quick ones.
  const tools = listed.filter((t) => quick.has(t));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const out: Case[] = [];
  const generators: Array<() => Case> = [
    () => {
      const t = pick(listed);
      const v = pick(nameVariants(t, r));
      return { kind: 'name variant', mustRefuse: true, body: (p, m) => call(p + v, withMarker(m), m) };
    },
    () => {
      const t = pick(tools);
      return { kind: 'exact name', mustRefuse: false, body: (p, m) => call(p + t, withMarker(m), m) };
    },
    () => {
      // A repeated key at a random depth inside the arguments, in params, or in the envelope.
      const where = pick(['arguments', 'params', 'envelope', 'deep'] as const);
      const depth = 1 + Math.floor(r() * 20);
      const t = pick(tools);
      return {
        kind: `duplicate key (${where})`, mustRefuse: true,
        body: (p, m) => {
          if (where === 'params') return `{"jsonrpc":"2.0","id":${q(m)},"method":"tools/call","params":{"name":${q(`${p}${t}`)},"nam\\u0065":${q(`${p}echo`)},"arguments":${withMarker(m)}}}`;
          if (where === 'envelope') return `{"jsonrpc":"2.0","id":${q(m)},"method":"tools/call","method":"ping","params":{"name":${q(`${p}${t}`)},"arguments":${withMarker(m)}}}`;
          const dup = `{"k":1,"k":2}`;
          const inner = where === 'deep' ? `${'{"x":'.repeat(depth)}${dup}${'}'.repeat(depth)}` : dup;
          return call(p + t, withMarker(m, `"v":${inner}`), m);
        },
      };
    },
    () => {
      const n = pick(['1234567890123456789', '1234567890123456700', '1.0', '1', '1e2', '100', '0.30000000000000001', '1e400', '-0', '9007199254740993', '1E-400']);
      const b = pick(['1', '2.50', '1e1']);
      return { kind: 'big or decimal number', mustRefuse: false, verbatim: `"a":${n},"b":${b}`, body: (p, m) => call(`${p}get-sum`, withMarker(m, `"a":${n},"b":${b}`), m) };
    },
    () => {
      const depth = pick([60, 62, 63, 64, 65, 66, 70, 100, 2500, 3000, 4000]);
      const t = pick(tools);
      return { kind: `nesting ${depth}`, mustRefuse: depth > 64, body: (p, m) => call(p + t, nested(depth, m), m) };
    },
    () => {
      const size = maxBodyBytes + Math.floor(r() * 4096) - 64;
      const t = pick(tools);
      return { kind: 'oversized', mustRefuse: true, body: (p, m) => call(p + t, withMarker(m, `"pad":${q('x'.repeat(Math.max(0, size)))}`), m) };
    },
    () => {
      const where = pick(['name', 'value', 'key'] as const);
      const s = pick(['\\ud800', '\\udfff', '\\ud83d', 'a\\udc00b']);
      const t = pick(tools);
      return {
        kind: `lone surrogate (${where})`, mustRefuse: true,
        body: (p, m) => {
          const base = JSON.stringify(p + t).slice(1, -1);
          if (where === 'name') return `{"jsonrpc":"2.0","id":${q(m)},"method":"tools/call","params":{"name":"${base}${s}","arguments":${withMarker(m)}}}`;
          if (where === 'value') return call(p + t, `{"corpus":${q(m)},"v":"${s}"}`, m);
          return call(p + t, `{"corpus":${q(m)},"${s}":1}`, m);
        },
      };
    },
    () => {
      const t = pick(tools);
      const trick = pick(['batch', 'notification', 'null id', 'object id', 'huge id', 'float id', 'no jsonrpc', 'jsonrpc 1.0', 'bool id'] as const);
      return {
        kind: `envelope: ${trick}`, mustRefuse: true,
        body: (p, m) => {
          const one = call(p + t, withMarker(m), m);
          switch (trick) {
            case 'batch': return `[${one},${call(`${p}echo`, withMarker(m), `${m}b`)}]`;
            case 'notification': return `{"jsonrpc":"2.0","method":"tools/call","params":{"name":${q(p + t)},"arguments":${withMarker(m)}}}`;
            case 'null id': return one.replace(`"id":${q(m)}`, '"id":null');
            case 'object id': return one.replace(`"id":${q(m)}`, '"id":{"x":1}');
            case 'huge id': return one.replace(`"id":${q(m)}`, '"id":123456789012345678901234567890');
            case 'float id': return one.replace(`"id":${q(m)}`, '"id":1e400');
            case 'bool id': return one.replace(`"id":${q(m)}`, '"id":true');
            case 'no jsonrpc': return one.replace('"jsonrpc":"2.0",', '');
            default: return one.replace('"jsonrpc":"2.0"', '"jsonrpc":"1.0"');
          }
        },
      };
    },
    () => {
      const method = pick(['Tools/call', 'TOOLS/CALL', 'tools/Call', 'tools/call ', ' tools/call', 'tools/call\u0000', 'tools\u2215call', 'tools/calls', 'tools.call']);
      const t = pick(tools);
      return { kind: 'method variant', mustRefuse: true, body: (p, m) => `{"jsonrpc":"2.0","id":${q(m)},"method":${q(method)},"params":{"name":${q(p + t)},"arguments":${withMarker(m)}}}` };
    },
    () => {
      const t = pick(tools);
      const trick = pick(['two authorization headers', 'partial body marker', 'GET with a body', 'DELETE with a body', 'evil host'] as const);
      const base: Case = { kind: `header: ${trick}`, mustRefuse: trick !== 'evil host', body: (p, m) => call(p + t, withMarker(m), m) };
      switch (trick) {
        case 'two authorization headers': return { ...base, extHeaders: { authorization: 'TWO' }, proxyHeaders: { authorization: ['TWO'] } };
        case 'partial body marker': return { ...base, only: 'ext', extHeaders: { 'x-envoy-auth-partial-body': pick(['false,true', 'true,false', 'false, true', 'TRUE']) } };
        case 'GET with a body': return { ...base, method: 'GET' };
        case 'DELETE with a body': return { ...base, method: 'DELETE' };
        default: return { ...base, extHeaders: { ':authority': 'evil.example', host: 'evil.example' } };
      }
    },
  ];
  // Weighted: confusable names over every tool the upstream lists dominate, as the issue's core.
  const weights = [30, 6, 12, 6, 10, 3, 10, 8, 7, 8];
  const total = weights.reduce((a, b) => a + b, 0);
  while (out.length < caseCount) {
    let x = r() * total;
    let i = 0;
    while ((x -= weights[i]!) > 0) i++;
    out.push(generators[i]!());
  }
  return out;
}

interface Answer { allowed: boolean; status: number; code?: number }

let rig: Rig;
let ext: ExtAuthzServer;
let grpc: ReturnType<typeof authorizationClient>;
let forwarder: EnvoyForwarder;
let trail: AuditTrail;
let auditFile: string;
let token: string;
let forged: string;
let session: string;
let tools: string[];
const hooked = { decisions: 0, refusals: 0 };
const crashes: string[] = [];
const onRejection = (err: unknown) => crashes.push(`unhandled rejection: ${String(err)}`);
const onException = (err: unknown) => crashes.push(`uncaught exception: ${String(err)}`);
const agent = new Agent({ keepAlive: true, maxSockets: 16 });

beforeAll(async () => {
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtExceptionMonitor', onException);
  auditFile = join(mkdtempSync(join(tmpdir(), 'toolgate-corpus-')), 'audit.jsonl');
  trail = await AuditTrail.open({ file: auditFile, log, registry: new Registry(), fsync: false });
  rig = await startRig({}, {
    maxBodyBytes,
    onDecision: (r) => { hooked.decisions++; return trail.record(r); },
    onRefusal: (r) => { hooked.refusals++; trail.recordRefusal(r); },
  });
  ext = await startExtAuthzServer({ port: 0, host: '127.0.0.1', log, gate: rig.gate });
  grpc = authorizationClient(ext.port);
  forwarder = await startEnvoyForwarder(rig.tap.url);
  token = await rig.token({ scope: 'math:sum' });
  forged = await rig.issuer.hostile.tampered({ sub: 'alice', azp: 'agent-1' });
  const lister = new Client({ name: 'corpus', version: '1' }, { capabilities: { roots: {}, sampling: {}, elicitation: {} } });
  await lister.connect(new StreamableHTTPClientTransport(new URL(rig.mirror.url)));
  tools = (await lister.listTools()).tools.map((t) => t.name).sort();
  await lister.close();
  const init = await fetch(rig.proxy.url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'corpus', version: '1' } } }) });
  session = init.headers.get('mcp-session-id')!;
  await init.arrayBuffer();
  await (await fetch(rig.proxy.url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'mcp-session-id': session, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{"jsonrpc":"2.0","method":"notifications/initialized"}' })).arrayBuffer();
}, 120_000);

afterAll(async () => {
  process.off('unhandledRejection', onRejection);
  process.off('uncaughtExceptionMonitor', onException);
  grpc?.close();
  await ext?.close();
  await rig?.close();
  await trail?.close();
  agent.destroy();
});

const bearerFor = (h: string | string[] | undefined): string | string[] => (h === 'TWO' ? `Bearer ${token},Bearer ${forged}` : Array.isArray(h) ? [`Bearer ${token}`, `Bearer ${forged}`] : `Bearer ${token}`);

async function viaExtAuthz(c: Case, body: string): Promise<Answer> {
  const { authorization, ...rest } = c.extHeaders ?? {};
  const res = await checkOnce(grpc, envoyCheckRequest({ server: 'mirror', method: c.method ?? 'POST', body, headers: { authorization: bearerFor(authorization) as string, 'mcp-session-id': 'envoy-session', ...rest } }));
  if (res.status.code === 0) {
    await forwarder.forward(res, body);
    return { allowed: true, status: 200 };
  }
  const d = res.denied_response!;
  const parsed = JSON.parse(d.body) as { error?: { code?: number } };
  const status = typeof d.status.code === 'number' ? d.status.code : statusOf(String(d.status.code));
  return { allowed: false, status, ...(parsed.error?.code !== undefined ? { code: parsed.error.code } : {}) };
}

function statusOf(name: string): number {
  const known: Record<string, number> = { OK: 200, BadRequest: 400, Unauthorized: 401, Forbidden: 403, NotFound: 404, MethodNotAllowed: 405, PayloadTooLarge: 413, InternalServerError: 500, ServiceUnavailable: 503 };
  return known[name] ?? 599;
}

function viaProxy(c: Case, body: string): Promise<Answer> {
  const auth = bearerFor(c.proxyHeaders?.authorization);
  return new Promise((resolve, reject) => {
    const req = httpRequest(rig.proxy.url, {
      agent, method: c.method ?? 'POST',
      headers: { authorization: auth, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25', 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-length': String(Buffer.byteLength(body)) } as OutgoingHttpHeaders,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (b: Buffer) => chunks.push(b));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        // A JSON-RPC error in the body (JSON or one SSE event) is a refusal, whatever the status.
        const m = /"error":\{"code":(-?\d+)/.exec(text);
        const upstreamAnswered = /"result":/.test(text);
        if (m && !upstreamAnswered) resolve({ allowed: false, status, code: Number(m[1]) });
        else resolve({ allowed: status < 300, status });
      });
    });
    req.setTimeout(15_000, () => req.destroy(new Error('no answer in 15 s')));
    req.on('error', reject);
    req.end(body);
  });
}

describe(`bypass corpus: ${caseCount} generated requests through both front ends`, () => {
  it('lets no refused call reach the upstream, leaves no refusal unaudited, and never crashes', async () => {
    const started = performance.now();
    const corpus = buildCorpus(tools, 0x70016a7e);
    expect(corpus.length).toBeGreaterThanOrEqual(caseCount);
    const refusedMarkers = new Set<string>();
    const verbatim = new Map<string, string>();
    const tally = { sent: 0, refused: 0, allowed: 0, mustRefuseAllowed: [] as string[], undocumented5xx: [] as string[] };
    const kinds = new Map<string, number>();
    const run = async (c: Case, i: number, fe: 'ext' | 'proxy') => {
      if (c.only && c.only !== fe) return;
      const marker = `corpus-${String(i).padStart(5, '0')}-${fe}`;
      const body = c.body(fe === 'ext' ? '' : 'mirror__', marker);
      let a: Answer;
      try {
        a = fe === 'ext' ? await viaExtAuthz(c, body) : await viaProxy(c, body);
      } catch (err) {
        crashes.push(`${fe} ${c.kind}: ${String(err)}`);
        return;
      }
      tally.sent++;
      if (a.allowed) {
        tally.allowed++;
        if (c.verbatim) verbatim.set(marker, c.verbatim);
      }
      else {
        tally.refused++;
        refusedMarkers.add(marker);
      }
      if (c.mustRefuse && a.allowed) tally.mustRefuseAllowed.push(`${fe} ${c.kind}: ${body.slice(0, 160)}`);
      if (a.status >= 500 && !(a.status === 503 && a.code === ErrorCodes.policyUnavailable)) tally.undocumented5xx.push(`${fe} ${c.kind} → ${a.status} ${a.code}`);
    };
    const concurrency = 8;
    for (let i = 0; i < corpus.length; i += concurrency) {
      await Promise.all(corpus.slice(i, i + concurrency).flatMap((c, j) => {
        kinds.set(c.kind.replace(/ \(.*\)$|: .*$/, ''), (kinds.get(c.kind.replace(/ \(.*\)$|: .*$/, '')) ?? 0) + 1);
        return [run(c, i + j, 'ext'), run(c, i + j, 'proxy')];
      }));
    }
    await trail.flush();
    const seconds = (performance.now() - started) / 1000;

    // What reached the upstream: any body carrying a refused request's marker.
    const reached = new Set<string>();
    for (const b of rig.tap.bodies) for (const m of b.matchAll(/corpus-\d{5}-(?:ext|proxy)/g)) reached.add(m[0]);
    const refusedReaching = [...refusedMarkers].filter((m) => reached.has(m));
    // Allowed calls reach the upstream with the numbers as the client wrote them (both front ends).
    const altered = [...verbatim].filter(([m, text]) => !rig.tap.bodies.some((b) => b.includes(m) && b.includes(text)));

    const lines = readFileSync(auditFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type?: string });
    const refusalRecords = lines.filter((l) => l.type === 'refusal').length;
    const decisionRecords = lines.filter((l) => l.type === 'decision').length;
    const verified = await verifyAuditFile(auditFile);
    const counts = {
      cases: corpus.length, requests: tally.sent, refused: tally.refused, allowed: tally.allowed, seconds: Math.round(seconds),
      kinds: Object.fromEntries(kinds),
      refusedCallsReachingUpstream: refusedReaching.length,
      mustRefuseButAllowed: tally.mustRefuseAllowed.length,
      allowedNumbersForwarded: verbatim.size,
      allowedNumbersAltered: altered.length,
      refusalsWithoutAuditRecord: hooked.refusals - refusalRecords,
      decisionsWithoutAuditRecord: hooked.decisions - decisionRecords,
      auditRecordsLost: trail.metrics.writeErrors ? Number((await trail.metrics.writeErrors.get()).values[0]?.value ?? 0) : 0,
      crashes: crashes.length + tally.undocumented5xx.length,
    };
    console.log(`bypass corpus: ${JSON.stringify(counts, null, 2)}`);
    expect(refusedReaching).toEqual([]);
    expect(tally.mustRefuseAllowed).toEqual([]);
    expect(verbatim.size).toBeGreaterThan(0);
    expect(altered).toEqual([]);
    expect(crashes).toEqual([]);
    expect(tally.undocumented5xx).toEqual([]);
    expect(counts.auditRecordsLost).toBe(0);
    expect(hooked.refusals).toBeGreaterThanOrEqual(tally.refused);
    expect(refusalRecords).toBe(hooked.refusals);
    expect(decisionRecords).toBe(hooked.decisions);
    expect(verified).toMatchObject({ ok: true });
    // The corpus is mostly refusals, but not only: exact names are decided and some allowed.
    expect(tally.allowed).toBeGreaterThan(0);
  }, 180_000);
});
