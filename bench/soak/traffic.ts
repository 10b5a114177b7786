// The soak's callers through both front ends. ext_authz: Envoy's CheckRequests over gRPC
// channels that are replaced every `callsPerConnection` calls (each new channel its own HTTP/2
// connection and a freshly minted caller token). Proxy: official-SDK MCP sessions replaced the
// same way — most ended with DELETE as a well-behaved client does, every `abandonEvery`-th just
// dropped, as a crashed agent leaves it, for the proxy's idle sweep. Calls are allowed (echo),
// denied (get-env) or held (get-sum, unique arguments so each is its own ApprovalRequest):
// held proxy calls are approved with `kubectl mcp approve` and answered; held ext_authz calls get
// their approval reference at once (retry mode) and are left to expire.
import { Client as GrpcClient, credentials } from '@grpc/grpc-js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { loadProtos, type CheckResponse } from '../../authorizer/src/extauthz/index.ts';
import { envoyCheckRequest, toolsCall } from '../../test/support/extauthz.ts';

export type Kind = 'allow' | 'deny' | 'hold';
export type FrontEnd = 'extauthz' | 'proxy';

/** Outcomes and errors, by front end and kind; errors by a short reason. */
export class Tally {
  readonly calls: Record<string, number> = {};
  readonly errors: Record<string, number> = {};
  /** The first message of each error reason, for the report. */
  readonly firstError: Record<string, string> = {};
  /** Errors per minute since the tally was made, to tell a stall from a steady trickle. */
  readonly errorsByMinute: number[] = [];
  readonly #t0 = performance.now();
  ok(front: FrontEnd, kind: Kind): void {
    const k = `${front}:${kind}`;
    this.calls[k] = (this.calls[k] ?? 0) + 1;
  }
  error(front: FrontEnd, kind: Kind, reason: string, detail = reason): void {
    // Digits vary per call (ids, ports); the kind of error does not.
    const k = `${front}:${kind}:${reason.replace(/\d+/g, 'N').slice(0, 120)}`;
    this.errors[k] = (this.errors[k] ?? 0) + 1;
    this.firstError[k] ??= detail.slice(0, 500);
    const minute = Math.floor((performance.now() - this.#t0) / 60_000);
    while (this.errorsByMinute.length <= minute) this.errorsByMinute.push(0);
    this.errorsByMinute[minute]!++;
  }
  get errorCount(): number {
    return Object.values(this.errors).reduce((a, b) => a + b, 0);
  }
  get callCount(): number {
    return Object.values(this.calls).reduce((a, b) => a + b, 0);
  }
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export interface TrafficOptions {
  extAuthzPort: number;
  proxyUrl: string;
  mint: () => Promise<string>;
  tally: Tally;
  callsPerConnection: number;
  abandonEvery: number;
}

let unique = 0;
/** Arguments no other call carries: each held call is its own ApprovalRequest. */
const heldArguments = () => ({ a: ++unique, b: Date.now() % 100_000 });

/** A gRPC channel with its own connection (a local subchannel pool: grpc-js would otherwise share one connection between channels). */
class CheckChannel {
  readonly #client: GrpcClient;
  readonly #authorization: string;
  calls = 0;
  #inFlight = 0;
  #retired = false;
  constructor(port: number, token: string) {
    this.#client = new GrpcClient(`127.0.0.1:${port}`, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
    this.#authorization = `Bearer ${token}`;
  }
  /** Counts a call against this channel before it is sent, so it cannot be closed under the caller. */
  claim(): this {
    this.calls++;
    this.#inFlight++;
    return this;
  }
  /** One Check on a claimed channel. */
  check(tool: string, args: Record<string, unknown>): Promise<CheckResponse> {
    const method = loadProtos().authorization.Check!;
    const req = envoyCheckRequest({ server: 'everything', body: toolsCall(tool, args, this.calls), headers: { authorization: this.#authorization } });
    return new Promise<CheckResponse>((resolve, reject) => {
      this.#client.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize as (b: Buffer) => CheckResponse, req,
        (err, res) => (err ? reject(err) : resolve(res!)));
    }).finally(() => {
      this.#inFlight--;
      if (this.#retired && this.#inFlight === 0) this.#client.close();
    });
  }
  /** Closes the channel once the calls already started on it are answered. */
  retire(): void {
    this.#retired = true;
    if (this.#inFlight === 0) this.#client.close();
  }
}

/** An MCP session through the proxy (official SDK client). */
class ProxySession {
  readonly client: Client;
  readonly transport: StreamableHTTPClientTransport;
  calls = 0;
  inFlight = 0;
  /** Runs when the session is retired and its last call is answered. */
  onIdle: (() => void) | undefined;
  constructor(url: string, token: string) {
    this.client = new Client({ name: 'soak', version: '1.0.0' });
    this.transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  }
}

/** Keeps one connection per front end open and replaces it after `callsPerConnection` calls. */
export class Callers {
  readonly #o: TrafficOptions;
  #channel: Promise<CheckChannel> | undefined;
  #session: Promise<ProxySession> | undefined;
  sessionsOpened = 0;
  sessionsAbandoned = 0;
  channelsOpened = 0;

  constructor(o: TrafficOptions) {
    this.#o = o;
  }

  async #currentChannel(): Promise<CheckChannel> {
    const pending = this.#channel;
    const current = pending ? await pending : undefined;
    if (current && current.calls < this.#o.callsPerConnection) return current.claim();
    // Only the first caller to see the channel used up replaces it.
    if (this.#channel === pending) {
      // Calls already under way on the old channel finish on it.
      current?.retire();
      this.channelsOpened++;
      this.#channel = this.#o.mint().then((t) => new CheckChannel(this.#o.extAuthzPort, t));
    }
    return (await this.#channel!).claim();
  }

  async #currentSession(): Promise<ProxySession> {
    const pending = this.#session;
    const current = pending ? await pending : undefined;
    const claim = (x: ProxySession) => {
      x.calls++;
      x.inFlight++;
      return x;
    };
    if (current && current.calls < this.#o.callsPerConnection) return claim(current);
    if (this.#session === pending) {
      if (current) this.#retire(current);
      this.sessionsOpened++;
      this.#session = (async () => {
        const s = new ProxySession(this.#o.proxyUrl, await this.#o.mint());
        await s.client.connect(s.transport);
        return s;
      })();
      this.#session.catch(() => (this.#session = undefined));
    }
    return claim(await this.#session!);
  }

  /** Ends a replaced session once its calls are answered: DELETE (terminateSession), or dropped without one. */
  #retire(s: ProxySession): void {
    const abandon = this.sessionsOpened % this.#o.abandonEvery === 0;
    if (abandon) this.sessionsAbandoned++;
    s.onIdle = () => {
      void (async () => {
        if (!abandon) await s.transport.terminateSession().catch(() => undefined);
        await s.client.close().catch(() => undefined);
      })();
    };
    if (s.inFlight === 0) s.onIdle();
  }

  /** One ext_authz Check of `kind`; the outcome must match the policy (allow: ok; deny and hold: denied). */
  async extAuthz(kind: Kind): Promise<void> {
    const { tally } = this.#o;
    const [tool, args] = kind === 'allow' ? ['echo', { message: 'soak' }] : kind === 'deny' ? ['get-env', {}] : ['get-sum', heldArguments()];
    let res: CheckResponse;
    try {
      res = await (await this.#currentChannel()).check(tool, args);
    } catch (err) {
      tally.error('extauthz', kind, `grpc: ${message(err)}`);
      return;
    }
    const allowed = res.ok_response !== undefined && res.ok_response !== null;
    if (allowed !== (kind === 'allow')) {
      tally.error('extauthz', kind, allowed ? 'allowed, expected a refusal' : `refused (HTTP ${res.denied_response?.status?.code ?? '?'}), expected allowed`, JSON.stringify(res).slice(0, 500));
      return;
    }
    if (kind === 'hold' && !JSON.stringify(res.denied_response ?? {}).includes('approv')) {
      tally.error('extauthz', kind, 'refused without an approval reference', JSON.stringify(res).slice(0, 500));
      return;
    }
    tally.ok('extauthz', kind);
  }

  /** One tools/call of `kind` (allow or deny) through the proxy. */
  async proxy(kind: 'allow' | 'deny'): Promise<void> {
    const { tally } = this.#o;
    let s: ProxySession;
    try {
      s = await this.#currentSession();
    } catch (err) {
      tally.error('proxy', kind, `connect: ${message(err)}`);
      return;
    }
    try {
      const r = await s.client.callTool(kind === 'allow' ? { name: 'echo', arguments: { message: 'soak' } } : { name: 'get-env', arguments: {} }, undefined, { timeout: 60_000 });
      const text = JSON.stringify(r.content);
      if (kind === 'allow' && (r.isError || !text.includes('Echo: soak'))) tally.error('proxy', kind, 'allowed call did not answer Echo', text);
      else if (kind === 'deny' && !r.isError) tally.error('proxy', kind, 'denied call answered', text);
      else tally.ok('proxy', kind);
    } catch (err) {
      // A denial is a JSON-RPC error for some refusals; anything else on an allowed call is an error.
      if (kind === 'deny' && /denied|not allowed|policy|refus/i.test(message(err))) tally.ok('proxy', kind);
      else tally.error('proxy', kind, `call: ${message(err)}`);
    } finally {
      if (--s.inFlight === 0) s.onIdle?.();
    }
  }

  /**
   * One held tools/call through the proxy on a session of its own: waits for the approval
   * reference the proxy sends as progress, approves it with `approve`, and expects the real answer.
   */
  async proxyHeld(approve: (name: string) => Promise<number>): Promise<void> {
    const { tally } = this.#o;
    const s = new ProxySession(this.#o.proxyUrl, await this.#o.mint());
    try {
      await s.client.connect(s.transport);
      let name: string | undefined;
      let approval: Promise<number> | undefined;
      const args = heldArguments();
      const r = await s.client.callTool({ name: 'get-sum', arguments: args }, undefined, {
        timeout: 120_000,
        onprogress: (p) => {
          name ??= /kubectl mcp approve (ar-[0-9a-f]+) /.exec(p.message ?? '')?.[1];
          if (name && !approval) approval = approve(name);
        },
      });
      const code = await approval;
      if (code !== 0) tally.error('proxy', 'hold', `kubectl mcp approve exited ${code ?? 'never (no approval reference)'}`);
      else if (r.isError || !JSON.stringify(r.content).includes(String(args.a + args.b))) tally.error('proxy', 'hold', 'approved call did not answer the sum', JSON.stringify(r.content));
      else tally.ok('proxy', 'hold');
    } catch (err) {
      tally.error('proxy', 'hold', `held call: ${message(err)}`);
    } finally {
      await s.transport.terminateSession().catch(() => undefined);
      await s.client.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    const c = await this.#channel?.catch(() => undefined);
    c?.retire();
    const s = await this.#session?.catch(() => undefined);
    if (s) {
      await s.transport.terminateSession().catch(() => undefined);
      await s.client.close().catch(() => undefined);
    }
  }
}

/** allow, deny, allow, allow, deny, … : 60 % allowed, 40 % denied, fixed order. */
export const mixKind = (i: number): 'allow' | 'deny' => ([0, 2, 3].includes(i % 5) ? 'allow' : 'deny');

/** Closed loop: `concurrency` workers each calling `call(i)` back to back until `durationMs` ends; resolves with the calls completed. */
export async function closedLoop(concurrency: number, durationMs: number, call: (i: number) => Promise<void>): Promise<number> {
  const end = performance.now() + durationMs;
  let n = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) await call(n++);
  }));
  return n;
}

export interface PacedResult {
  started: number;
  /** Calls not started because `maxInFlight` were still outstanding (the target rate was not kept). */
  skipped: number;
}

/** Open loop at `perSecond`: starts calls on schedule whatever the answers take, up to `maxInFlight` outstanding. */
export async function paced(perSecond: number, durationMs: number, maxInFlight: number, call: (i: number) => Promise<void>, stop?: AbortSignal): Promise<PacedResult> {
  const t0 = performance.now();
  let started = 0;
  let skipped = 0;
  let inFlight = 0;
  const running = new Set<Promise<void>>();
  while (!stop?.aborted) {
    const elapsed = performance.now() - t0;
    if (elapsed >= durationMs) break;
    const due = Math.floor((elapsed / 1000) * perSecond);
    while (started + skipped < due) {
      if (inFlight >= maxInFlight) {
        skipped++;
        continue;
      }
      inFlight++;
      const p = call(started++).finally(() => {
        inFlight--;
        running.delete(p);
      });
      running.add(p);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await Promise.all(running);
  return { started, skipped };
}
