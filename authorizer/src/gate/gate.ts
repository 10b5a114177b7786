// The one gate every MCP request passes, whichever front end received it:
//
//   available → authenticate → read (body limit, JSON-RPC parse) → admit (method, params, tool
//   name, catalog lookup, policy decision) → release (human approval) → outcome
//
// A front end calls these stages in order and renders what comes back (an Allow or a Refusal);
// it holds no decision logic and picks no status or error code of its own. Its transport
// refusals (HTTP method, headers, sessions) go through refuse() too, so every refusal, wherever
// it happens, is metered, logged and audited in one place.
import type { Logger } from 'pino';
import { isJsonObject } from '../../../pkg/json/strict.ts';
import type { ApprovalRequest } from '../../../api/v1alpha1/index.ts';
import type { ApprovalCoordinator } from '../approvals/coordinator.ts';
import { outcomeError } from '../approvals/outcome.ts';
import { AuthenticationError, insufficientScope } from '../identity/errors.ts';
import { GatewayAuthRefusal, PolicyVerifiers, metadataUrlOf, policyAuthenticator, verifierFor, type Authenticate, type AuthenticationRequest } from './authenticate.ts';
import { noCatalog, type ToolCatalog } from './catalog.ts';
import { DecisionPath, verdictError, type DecisionRecord } from './decision-path.ts';
import { ErrorCodes, JsonRpcParseError, parseJsonRpc, type JsonRpcError, type JsonRpcId, type JsonRpcMessage, type JsonRpcRequest } from './jsonrpc.ts';
import type { GatewayMetrics } from './metrics.ts';
import {
  bodyTooLargeMessage, refusedMessageStatus, type Admission, type GateOutcome, type HeldCall, type Refusal, type RefusalContext, type RefusalRecord, type RefusalStage,
} from './outcome.ts';
import type { ToolPins } from '../pinning/tool-pins.ts';
import type { PolicyRouter } from './policy-router.ts';
import { governedMethods, listingMethods, promptNameProblem, resolveOperation } from './operations.ts';
import { uriProblem } from './resource-uri.ts';
import { resolveToolName, type ToolNaming } from './tool-names.ts';
import type { CallerIdentity, ToolCall, Verdict } from './types.ts';
import { conversationId, withSession, type SessionContext, type SessionState } from '../session/index.ts';
import { policyInput } from './decision-path.ts';
import { responseEventOf } from '../audit/response.ts';
import { statedPurpose } from '../audit/purpose.ts';
import type { ResponseEvent } from '../audit/record.ts';

/**
 * Methods that pass without a policy decision: session plumbing and the listings, which a front
 * end that sees their results filters per caller (visibleTools, visibleResources, ...).
 */
export const defaultPassMethods: readonly string[] = ['initialize', 'ping', ...listingMethods];

/** 4 MiB, what the MCP SDK server accepts: a client must not find the gate stricter than its server. */
export const defaultMaxBodyBytes = 4 * 1024 * 1024;

export interface GateOptions {
  router: PolicyRouter;
  log: Logger;
  /** Default: the identity settings of the loaded policies (spec.identity). */
  authenticate?: Authenticate;
  /** Shared with the RFC 9728 metadata route; built from `router` when absent. */
  verifiers?: PolicyVerifiers;
  /** Each governed server's tools/list. Without one every tools/call is refused (tool catalog unavailable): only listed tools are decided. */
  catalog?: ToolCatalog;
  /** Held calls become ApprovalRequests; without it they are refused with approvalRequired. */
  approvals?: ApprovalCoordinator;
  metrics?: GatewayMetrics;
  /** Further request methods let through without a decision; the governed ones (resources/read, prompts/get, ...) are always decided. */
  passMethods?: readonly string[];
  /** Bodies above this are refused (413). Behind Envoy keep it at or below max_request_bytes. */
  maxBodyBytes?: number;
  /** RFC 9728 metadata URL named in every challenge; default derived from the policy's audience. */
  resourceMetadataUrl?: string;
  /** False until the policies are loaded: everything is refused as unavailable. Default: every policy known has loaded. */
  ready?: () => boolean;
  /**
   * Once per tools/call decision (the audit trail hangs here). When it returns a promise of an
   * AuditWrite (AuditTrail.record), a call is let through (or held) only once it settles written;
   * not written, the call is refused (503) unless auditOnFailure says Allow for its server.
   */
  onDecision?: (record: DecisionRecord) => unknown;
  /** Per governed server, what its policy says to do when a decision cannot be audited (default Refuse). */
  auditOnFailure?: (server: string) => AuditOnFailure;
  /** Once per answer a front end relayed for a decided call (the audit trail's response records; the proxy only). */
  onResponse?: (event: ResponseEvent) => void;
  /** Once per refusal, whatever refused it (the audit trail hangs here). */
  onRefusal?: (record: RefusalRecord) => void;
  /** Tool pins (authorizer/src/pinning), for tools/list filtering; calls get their pin check from the catalog. */
  pins?: ToolPins;
  /**
   * Velocity counters and taint for policies with spec.session. Without it such policies'
   * limits and flows still decide, over an empty history: a sink is never refused for taint.
   */
  session?: SessionState;
}

export type AuditOnFailure = 'Refuse' | 'Allow';

export interface AdmitContext extends RefusalContext {
  caller: CallerIdentity;
  /** How params.name names the governed server. */
  naming: ToolNaming;
  /**
   * What the front end does with resources/list, resources/templates/list and prompts/list
   * results: 'filtered' (it applies visibleResources, visibleResourceTemplates, visiblePrompts),
   * or 'unfiltered' (it cannot see responses: ext_authz). Absent, those listings are refused,
   * so no front end relays them unfiltered by omission.
   */
  listings?: 'filtered' | 'unfiltered';
  /** The client went away: stop waiting for the catalog. */
  signal?: AbortSignal;
}

export type Authenticated = { ok: true; caller: CallerIdentity } | { ok: false; refusal: Refusal };
export type ReadMessage = { ok: true; message: JsonRpcMessage } | { ok: false; refusal: Refusal };

/** What a held call waits with: retry answers at once; hold waits (watch-driven) until decided or aborted. */
export type ReleaseMode = { mode: 'retry' } | { mode: 'hold'; signal: AbortSignal; onPending?: (r: ApprovalRequest) => void };

interface About { method?: string; server?: string; tool?: string; target?: string }

export class Gate {
  readonly router: PolicyRouter;
  readonly decisionPath: DecisionPath;
  readonly maxBodyBytes: number;
  readonly approvals: ApprovalCoordinator | undefined;
  readonly #o: GateOptions;
  readonly #verifiers: PolicyVerifiers;
  readonly #authenticate: Authenticate;
  readonly #catalog: ToolCatalog;
  readonly #pass: Set<string>;
  /** The session scope of each held call, to count and taint it once released. */
  readonly #heldSessions = new WeakMap<ToolCall, SessionContext>();

  constructor(o: GateOptions) {
    this.#o = o;
    this.router = o.router;
    this.decisionPath = new DecisionPath({ router: o.router, log: o.log, ...(o.metrics ? { metrics: o.metrics } : {}), ...(o.onDecision ? { onDecision: o.onDecision } : {}), ...(o.pins ? { pins: o.pins } : {}) });
    this.maxBodyBytes = o.maxBodyBytes ?? defaultMaxBodyBytes;
    this.approvals = o.approvals;
    this.#verifiers = o.verifiers ?? new PolicyVerifiers(o.router, { log: o.log });
    this.#authenticate = o.authenticate ?? policyAuthenticator(this.#verifiers);
    this.#catalog = o.catalog ?? noCatalog;
    // A governed method is decided whatever passMethods says: listing it there once meant
    // "let it through unchecked", which policy now decides instead (fail closed).
    const ignored = (o.passMethods ?? []).filter((m) => governedMethods.includes(m));
    if (ignored.length > 0) o.log.warn({ methods: ignored }, 'passMethods lists methods the policy decides; they are decided, not passed');
    this.#pass = new Set([...defaultPassMethods, ...(o.passMethods ?? []).filter((m) => !governedMethods.includes(m))]);
  }

  /** True once the policies are loaded (readiness probes follow this). */
  ready(): boolean {
    if (this.#o.ready) return this.#o.ready();
    const keys = this.#o.router.keys();
    return keys.length > 0 && keys.every((k) => this.#o.router.entry(k).gateway !== undefined);
  }

  /** A refusal while the policies are not loaded (fail closed from the first instant), else undefined. */
  unavailable(ctx: RefusalContext): Refusal | undefined {
    if (this.ready()) return undefined;
    return this.refuse(ctx, {
      stage: 'transport', httpStatus: 503, id: null, headers: { 'retry-after': '5' },
      error: { code: ErrorCodes.policyUnavailable, message: 'policy unavailable, call refused: the authorizer is not ready (its policies are not loaded yet, or the admission policy guarding approvals is missing; /readyz on the probe port says which)' },
    });
  }

  /** The caller proven by the bearer token, or the RFC 6750 refusal (401/400/403 with a challenge). */
  async authenticate(r: AuthenticationRequest, ctx: RefusalContext): Promise<Authenticated> {
    try {
      return { ok: true, caller: await this.#authenticate(r) };
    } catch (err) {
      if (err instanceof GatewayAuthRefusal) {
        return { ok: false, refusal: this.refuse(ctx, { stage: 'authentication', httpStatus: err.status, id: null, error: { code: err.code, message: err.message } }, r.server !== undefined ? { server: r.server } : {}) };
      }
      if (err instanceof AuthenticationError) {
        const challenge = err.status === 503 ? {} : { wwwAuthenticate: err.wwwAuthenticate(this.#metadataUrl(r.server)) };
        return {
          ok: false,
          refusal: this.refuse(ctx, {
            stage: 'authentication', httpStatus: err.status, id: null, ...challenge,
            error: { code: ErrorCodes.unauthenticated, message: `authentication failed: ${err.description}`, data: err.toJSON() },
          }, r.server !== undefined ? { server: r.server } : {}),
        };
      }
      this.#o.log.error({ err }, 'authentication failed unexpectedly; refusing the request');
      return { ok: false, refusal: this.internalError(ctx) };
    }
  }

  /** One JSON-RPC message from a body, within the size limit. */
  read(body: string | Uint8Array, ctx: RefusalContext): ReadMessage {
    const bytes = typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.length;
    if (bytes > this.maxBodyBytes) return { ok: false, refusal: this.transportRefusal(ctx, 413, bodyTooLargeMessage(this.maxBodyBytes)) };
    try {
      return { ok: true, message: parseJsonRpc(body, { maxBytes: this.maxBodyBytes }) };
    } catch (err) {
      if (!(err instanceof JsonRpcParseError)) throw err;
      return { ok: false, refusal: this.refuse(ctx, { stage: 'parse', httpStatus: 400, id: err.id, error: { code: err.code, message: err.message } }) };
    }
  }

  /** Whether one client→server message may go upstream: passed, decided, held for approval, or refused. */
  async admit(msg: JsonRpcMessage, ctx: AdmitContext): Promise<Admission> {
    if (msg.kind === 'response') return { kind: 'allow', method: '(response)', message: msg };
    const method = msg.message.method;
    if (msg.kind === 'notification') {
      if (method.startsWith('notifications/')) return { kind: 'allow', method, message: msg };
      // A request sent without an id must not slip past the decision as a "notification".
      return this.#refuseMessage(ctx, false, null, ErrorCodes.invalidRequest, `"${method}" must be sent as a request with an id; only notifications/* may omit it`, { method });
    }
    const id = msg.message.id;
    if (method === 'tools/call') return this.#admitToolCall(msg, id, msg.message.params ?? {}, ctx);
    if (governedMethods.includes(method)) return this.#admitOperation(msg.message, ctx);
    // MCP 2026-07-28: discovery passes like initialize; a change-notification stream only for
    // what the caller may see — each resource it subscribes to must pass as a resources/read.
    if (method === 'server/discover') return { kind: 'allow', method, message: msg };
    if (method === 'subscriptions/listen') return this.#admitSubscriptions(msg.message, ctx);
    if (filteredListings.has(method) && !ctx.listings) {
      return this.#refuseMessage(ctx, true, id, ErrorCodes.methodNotFound, `method "${method}" is not allowed through this front end: it does not filter the listing per caller yet`, { method });
    }
    if (this.#pass.has(method)) return { kind: 'allow', method, message: msg };
    return this.#refuseMessage(ctx, true, id, ErrorCodes.methodNotFound, `method "${method}" is not allowed through toolgate (allowed: ${[...this.#pass, 'tools/call', ...governedMethods].sort().join(', ')})`, { method });
  }

  async #admitSubscriptions(req: JsonRpcRequest, ctx: AdmitContext): Promise<Admission> {
    const uris = (isJsonObject(req.params?.notifications) ? (req.params.notifications as Record<string, unknown>).resourceSubscriptions : undefined);
    if (uris !== undefined && !Array.isArray(uris)) return this.#refuseMessage(ctx, true, req.id, ErrorCodes.invalidParams, 'params.notifications.resourceSubscriptions must be an array of resource URIs', { method: req.method });
    for (const uri of uris ?? []) {
      const read: JsonRpcMessage = { kind: 'request', message: { jsonrpc: '2.0', id: req.id, method: 'resources/read', params: { uri } } };
      const admitted = await this.admit(read, ctx);
      if (admitted.kind === 'allow') continue;
      const why = admitted.kind === 'refuse' ? admitted.refusal.error.message : 'reading it needs approval';
      return this.#refuseMessage(ctx, true, req.id, ErrorCodes.invalidParams, `subscriptions/listen refused: resourceSubscriptions names ${JSON.stringify(uri)}, which this caller may not read (${why})`, { method: req.method });
    }
    return { kind: 'allow', method: req.method, message: { kind: 'request', message: req } };
  }

  /**
   * What becomes of a held call: released (allow, once), or refused with what the humans decided
   * (pending with the approval reference, denied, expired, released elsewhere, unavailable). In
   * hold mode an abort (the client went away) rejects with an AbortError; the request stays.
   */
  async release(held: HeldCall, how: ReleaseMode, ctx: RefusalContext): Promise<GateOutcome> {
    const approvals = this.approvals;
    const outcome = !approvals
      ? { kind: 'failed', message: 'no approval coordinator configured' } as const
      : how.mode === 'retry'
        ? await approvals.check(held.call, held.verdict)
        : await approvals.hold(held.call, held.verdict, how.signal, how.onPending);
    if (outcome.kind === 'released') {
      const unrecorded = await this.#commitSession(held.call, this.#heldSessions.get(held.call), held.verdict, held.message.id, ctx);
      if (unrecorded) return unrecorded;
      return { kind: 'allow', method: 'tools/call', message: { kind: 'request', message: held.message }, verdict: held.verdict, call: held.call };
    }
    const { error } = outcomeError(outcome, held.verdict);
    return {
      kind: 'refuse',
      refusal: this.refuse(ctx, { stage: 'approval', httpStatus: refusedMessageStatus(true, error.code), id: held.message.id, error, verdict: held.verdict }, about(held.call)),
    };
  }

  /**
   * A held call decided again (the approval coordinator, after a new revision), with the session
   * state it was held with: a call a flow or limit held is still held by it, not superseded.
   */
  redecide(call: ToolCall): Verdict {
    return this.decisionPath.decide(call, this.#heldSessions.get(call)?.input);
  }

  /** The tools a caller may see in a server's tools/list (see DecisionPath.visibleTools). */
  visibleTools<T extends { name: string; annotations?: ToolCall['annotations'] }>(server: string, tools: readonly T[], caller: CallerIdentity): T[] {
    return this.decisionPath.visibleTools(server, tools, caller);
  }

  /** The resources a caller may see in a server's resources/list: those a resources/read of their uri would be allowed. */
  visibleResources<T extends { uri: string }>(server: string, resources: readonly T[], caller: CallerIdentity): T[] {
    return this.decisionPath.visibleTargets(server, resources, caller, 'resource', (r) => (typeof r.uri === 'string' && uriProblem(r.uri) === undefined ? r.uri : undefined));
  }

  /** The templates a caller may see in resources/templates/list: those a completion/complete of their uriTemplate would be allowed. */
  visibleResourceTemplates<T extends { uriTemplate: string }>(server: string, templates: readonly T[], caller: CallerIdentity): T[] {
    return this.decisionPath.visibleTargets(server, templates, caller, 'resource', (t) => (typeof t.uriTemplate === 'string' && uriProblem(t.uriTemplate, { template: true }) === undefined ? t.uriTemplate : undefined));
  }

  /** The prompts a caller may see in prompts/list: those a prompts/get of their name would be allowed. */
  visiblePrompts<T extends { name: string }>(server: string, prompts: readonly T[], caller: CallerIdentity): T[] {
    return this.decisionPath.visibleTargets(server, prompts, caller, 'prompt', (p) => (typeof p.name === 'string' && promptNameProblem(p.name) === undefined ? p.name : undefined));
  }

  /** A refusal of the transport itself (HTTP method, headers, session, size): no message was read. */
  transportRefusal(ctx: RefusalContext, httpStatus: number, message: string, o: { headers?: Record<string, string>; code?: number; id?: JsonRpcId } = {}): Refusal {
    return this.refuse(ctx, {
      stage: 'transport', httpStatus, id: o.id ?? null, error: { code: o.code ?? ErrorCodes.transport, message }, ...(o.headers ? { headers: o.headers } : {}),
    });
  }

  /** The authorizer failed: refuse (fail closed) without saying more than where to look. */
  internalError(ctx: RefusalContext): Refusal {
    return this.refuse(ctx, { stage: 'internal', httpStatus: 500, id: null, error: { code: ErrorCodes.internalError, message: 'authorizer error, call refused; see the authorizer log' } });
  }

  /**
   * What a front end relaying the answer to a decided call hands on (the upstream's message or
   * toolgate's error, the upstream's HTTP error status); undefined when the call was not decided
   * or nothing records responses. Never throws: the answer is already on its way to the client.
   */
  answered(allowed: { verdict?: Verdict; call?: ToolCall }): ((answer: unknown, httpStatus?: number) => void) | undefined {
    const { verdict, call } = allowed;
    const record = this.#o.onResponse;
    if (!record || !verdict || !call) return undefined;
    const about = { decisionId: verdict.decisionId, server: call.server, tool: call.tool };
    return (answer, httpStatus) => {
      try {
        record(responseEventOf(about, answer, httpStatus));
      } catch (err) {
        this.#o.log.error({ err, decisionId: verdict.decisionId }, 'response hook failed');
      }
    };
  }
  /** The one place a refusal is made: metered, logged and handed to the audit trail, then returned to render. */
  refuse(ctx: RefusalContext, refusal: Refusal, what: About = {}): Refusal {
    const record: RefusalRecord = {
      frontEnd: ctx.frontEnd, stage: refusal.stage,
      ...(ctx.httpMethod ? { httpMethod: ctx.httpMethod } : {}),
      ...(what.method !== undefined ? { method: what.method } : {}),
      httpStatus: refusal.httpStatus, code: refusal.error.code, reason: refusal.error.message,
      ...(ctx.caller ? { caller: ctx.caller } : {}),
      ...(what.server !== undefined ? { server: what.server } : {}),
      ...(what.tool !== undefined ? { tool: what.tool } : {}),
      ...(what.target !== undefined ? { target: what.target } : {}),
      ...(ctx.sessionId ? { sessionId: ctx.sessionId } : {}),
      ...(refusal.id !== null ? { requestId: refusal.id } : {}),
      ...(refusal.verdict ? { decisionId: refusal.verdict.decisionId } : {}),
    };
    this.#o.metrics?.refused(ctx.frontEnd, refusal.stage, what.method, refusal.httpStatus, refusal.error.code);
    // A refusal the policy decided already has its "decided" line (rule, action, decisionId) at
    // info: this one, with the reason, is at debug, so a denied call logs one line, not two.
    this.#o.log[quietStages.has(refusal.stage) || refusal.verdict ? 'debug' : 'info']({
      frontEnd: ctx.frontEnd, stage: refusal.stage, httpStatus: refusal.httpStatus, code: refusal.error.code, reason: refusal.error.message,
      method: what.method, server: what.server, tool: what.tool, target: what.target, agent: ctx.caller?.agent, operator: ctx.caller?.operator, decisionId: record.decisionId,
    }, 'refused');
    try {
      this.#o.onRefusal?.(record);
    } catch (err) {
      // The audit trail counts its own losses; a throwing hook must not turn a refusal into a 500.
      this.#o.log.error({ err }, 'refusal hook failed');
    }
    return refusal;
  }

  async #admitToolCall(msg: JsonRpcMessage, id: JsonRpcId, params: Record<string, unknown>, ctx: AdmitContext): Promise<Admission> {
    const method = 'tools/call';
    if (typeof params.name !== 'string' || params.name === '') return this.#refuseMessage(ctx, true, id, ErrorCodes.invalidParams, 'params.name must be a non-empty string (the tool to call)', { method });
    if (params.arguments !== undefined && !isJsonObject(params.arguments)) return this.#refuseMessage(ctx, true, id, ErrorCodes.invalidParams, 'params.arguments must be an object', { method });
    const resolved = resolveToolName(params.name, ctx.naming);
    if ('error' in resolved) return this.#refuseMessage(ctx, true, id, ErrorCodes.invalidParams, resolved.error, { method });
    const { server, tool } = resolved;
    const stated = statedPurpose(params);
    if ('error' in stated) return this.#refuseMessage(ctx, true, id, ErrorCodes.invalidParams, stated.error, { method, server, tool });
    let annotations: ToolCall['annotations'];
    let pinned: Pick<ToolCall, 'toolLabels' | 'toolChange'> = {};
    if (this.#o.router.route(server).ok) {
      // A call is decided only for a tool the server lists, by exactly that name. Anything else
      // is refused here, before any name pattern could classify it: "get-env ", "GET-ENV",
      // "get_env" or "get-env\u0000" would otherwise be judged by the words in them, and an
      // upstream that trims or folds names would run the tool the exact name is denied.
      const found = await this.#catalog.lookup(server, tool, ctx.signal);
      if (found.kind === 'duplicate') {
        return this.#refuseMessage(ctx, true, id, ErrorCodes.invalidParams, `server "${server}" lists tool "${tool}" more than once; refusing to choose between them`, { method, server, tool });
      }
      if (found.kind === 'unlisted') {
        return this.#refuseMessage(ctx, true, id, ErrorCodes.invalidParams, `unknown tool ${JSON.stringify(tool)}: server "${server}" does not list it (tool names are matched exactly, as the server's tools/list spells them)`, { method, server, tool });
      }
      if (found.kind === 'unavailable') {
        // Fail closed: without the list the gate cannot tell a real tool from a look-alike name.
        return { kind: 'refuse', refusal: this.refuse(ctx, {
          stage: 'decision', httpStatus: 503, id, headers: { 'retry-after': '5' },
          error: { code: ErrorCodes.policyUnavailable, message: `tool catalog unavailable, call refused: the tools of server "${server}" could not be listed (${found.reason})` },
        }, { method, server, tool }) };
      }
      if (found.pin?.kind === 'unavailable') {
        // Fail closed: the policy pins tool definitions and this one was never recorded.
        return { kind: 'refuse', refusal: this.refuse(ctx, {
          stage: 'decision', httpStatus: 503, id, headers: { 'retry-after': '5' },
          error: { code: ErrorCodes.policyUnavailable, message: `tool pin unavailable, call refused: ${found.pin.reason}` },
        }, { method, server, tool }) };
      }
      annotations = found.tool.annotations;
      if (found.pin?.labels.length) pinned.toolLabels = found.pin.labels;
      if (found.pin?.kind === 'changed') pinned = { ...pinned, toolChange: { accepted: found.pin.accepted, listed: found.pin.listed } };
    }
    const call: ToolCall = {
      server, tool,
      ...(params.arguments !== undefined ? { arguments: params.arguments as Record<string, unknown> } : {}),
      ...(stated.purpose !== undefined ? { purpose: stated.purpose } : {}),
      ...(annotations ? { annotations } : {}),
      ...pinned,
      caller: ctx.caller,
      ...(ctx.sessionId ? { sessionId: ctx.sessionId } : {}),
      requestId: id,
      frontEnd: ctx.frontEnd,
    };
    return this.#decide(msg, id, call, ctx);
  }

  /** resources/read, prompts/get, completion/complete, logging/setLevel, ...: decided like a tools/call, by the same path. */
  async #admitOperation(req: JsonRpcRequest, ctx: AdmitContext): Promise<Admission> {
    const { method, id } = req;
    const params = req.params ?? {};
    const resolved = resolveOperation(method, params, ctx.naming);
    if (!resolved.ok) return this.#refuseMessage(ctx, true, id, ErrorCodes.invalidParams, resolved.error, { method });
    const call: ToolCall = {
      server: resolved.server, tool: '', operation: resolved.operation,
      caller: ctx.caller,
      ...(ctx.sessionId ? { sessionId: ctx.sessionId } : {}),
      requestId: id,
      frontEnd: ctx.frontEnd,
    };
    // Forwarded as decided: params differ from the request's only by a prompt's server prefix.
    const forward: JsonRpcMessage = { kind: 'request', message: resolved.params === params ? req : { ...req, params: resolved.params } };
    return this.#decide(forward, id, call, ctx);
  }

  async #decide(msg: JsonRpcMessage, id: JsonRpcId, call: ToolCall, ctx: AdmitContext): Promise<Admission> {
    const method = call.operation?.method ?? 'tools/call';
    const server = call.server;
    const prepared = await this.#prepareSession(msg, id, call, ctx);
    if (prepared.kind === 'refuse') return prepared;
    const session = prepared.session;
    const { record, audited } = await this.decisionPath.decideRecordedAsync(call, session?.input);
    const verdict = record.verdict;
    if (audited && verdict.effect !== 'deny') {
      // Fail closed: a call whose decision is not on disk does not proceed (nor wait for a human).
      const written = await audited;
      if (!written.ok && (this.#o.auditOnFailure?.(server) ?? 'Refuse') === 'Refuse') {
        return { kind: 'refuse', refusal: this.refuse(ctx, {
          stage: 'decision', httpStatus: 503, id, verdict, headers: { 'retry-after': '5' },
          error: { code: ErrorCodes.policyUnavailable, message: `audit trail unavailable, call refused: ${written.reason} (the policy's spec.audit.onFailure is Refuse)`, data: { decisionId: verdict.decisionId } },
        }, about(call)) };
      }
      if (!written.ok) this.#o.log.warn({ decisionId: verdict.decisionId, server }, 'decision not audited; let through because the policy says spec.audit.onFailure: Allow');
    }
    if (verdict.effect === 'proceed') {
      const unrecorded = await this.#commitSession(call, session, verdict, id, ctx);
      if (unrecorded) return unrecorded;
      return { kind: 'allow', method, message: msg, verdict, call };
    }
    // Only tool calls can be held: the compiler refuses require_approval rules of other kinds.
    if (verdict.effect === 'hold' && this.approvals && msg.kind === 'request' && !call.operation) {
      if (session) this.#heldSessions.set(call, session);
      return { kind: 'hold', held: { message: msg.message, call, verdict } };
    }
    const limited = session && this.#o.session?.limitRefusal(call, session, verdict);
    if (limited) return { kind: 'refuse', refusal: this.refuse(ctx, rateLimitedRefusal(ctx, id, verdict, limited.retryAfterMs), about(call)) };
    const scopes = this.decisionPath.requiredScopes(call, verdict);
    const { httpStatus, error } = verdictError(verdict, scopes);
    const challenge = error.code === ErrorCodes.insufficientScope && scopes?.length
      ? { wwwAuthenticate: insufficientScope(scopes).wwwAuthenticate(this.#metadataUrl(server)) }
      : {};
    return { kind: 'refuse', refusal: this.refuse(ctx, { stage: 'decision', httpStatus, id, error, verdict, ...challenge }, about(call)) };
  }

  /**
   * The session scope and state of a call whose policy has spec.session (else none). A sink is
   * decided with the taint read afresh from the durable store; if it cannot be read the call is
   * refused (503), as is a malformed conversation id.
   */
  async #prepareSession(msg: JsonRpcMessage, id: JsonRpcId, call: ToolCall, ctx: AdmitContext): Promise<{ kind: 'ok'; session?: SessionContext } | { kind: 'refuse'; refusal: Refusal }> {
    const route = this.#o.router.route(call.server);
    const state = this.#o.session;
    if (!route.ok || !route.entry.session || !state) return { kind: 'ok' };
    const conversation = conversationId(msg.kind === 'request' ? msg.message.params : undefined);
    if (!conversation.ok) return this.#refuseMessage(ctx, true, id, ErrorCodes.invalidParams, conversation.error, about(call));
    const engine = route.entry.engine;
    try {
      const session = await state.prepare(call, conversation.id, route.entry.session, (input) => engine.evaluate(withSession(policyInput(call), input)).session?.sink === true);
      return { kind: 'ok', session };
    } catch (err) {
      this.#o.log.error({ err, server: call.server }, 'session taint could not be read; refusing the call');
      return { kind: 'refuse', refusal: this.refuse(ctx, {
        stage: 'decision', httpStatus: 503, id, headers: { 'retry-after': '5' },
        error: { code: ErrorCodes.policyUnavailable, message: 'session state unavailable, call refused: the session\'s taint could not be read from the API server' },
      }, about(call)) };
    }
  }

  /** Counts a let-through call toward its limits and records its taint, before it goes upstream; a taint that cannot be written refuses the call (503). */
  async #commitSession(call: ToolCall, session: SessionContext | undefined, verdict: Verdict, id: JsonRpcId, ctx: RefusalContext): Promise<{ kind: 'refuse'; refusal: Refusal } | undefined> {
    if (!session || !this.#o.session) return undefined;
    try {
      await this.#o.session.commit(call, session, verdict.decision, verdict.decisionId);
      return undefined;
    } catch (err) {
      this.#o.log.error({ err, decisionId: verdict.decisionId, server: call.server }, 'session taint could not be written; refusing the call');
      return { kind: 'refuse', refusal: this.refuse(ctx, {
        stage: 'decision', httpStatus: 503, id, verdict, headers: { 'retry-after': '5' },
        error: { code: ErrorCodes.policyUnavailable, message: 'session state unavailable, call refused: what this call reads could not be recorded in the session\'s taint', data: { decisionId: verdict.decisionId } },
      }, about(call)) };
    }
  }

  #refuseMessage(ctx: RefusalContext, isRequest: boolean, id: JsonRpcId, code: number, message: string, what: About): { kind: 'refuse'; refusal: Refusal } {
    const error: JsonRpcError = { code, message };
    return { kind: 'refuse', refusal: this.refuse(ctx, { stage: 'message', httpStatus: refusedMessageStatus(isRequest, code), id, error }, what) };
  }

  /** Configured, or the RFC 9728 location of the governing policy's audience: never taken from the request. */
  #metadataUrl(server: string | undefined): string | undefined {
    if (this.#o.resourceMetadataUrl) return this.#o.resourceMetadataUrl;
    const found = verifierFor(this.#verifiers, server);
    return found.ok ? metadataUrlOf(found.identity.audience) : undefined;
  }
}

/**
 * A call a velocity limit denied: retryable, so it says when. Through the proxy a JSON-RPC error
 * at 200 (README.md: clients only see errors on a 2xx); behind Envoy 429, which HTTP clients and
 * Envoy's own retry policies understand, both with Retry-After.
 */
function rateLimitedRefusal(ctx: RefusalContext, id: JsonRpcId, verdict: Verdict, retryAfterMs: number): Refusal {
  const d = verdict.decision;
  const c = d.session?.constraint;
  return {
    stage: 'decision', httpStatus: ctx.frontEnd === 'ext_authz' ? 429 : 200, id, verdict,
    headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) },
    error: {
      code: ErrorCodes.rateLimited,
      message: `rate limited by velocity limit "${d.rule}": ${d.reasons[0] ?? ''}; retry after ${retryAfterMs} ms`,
      data: { decisionId: verdict.decisionId, rule: d.rule, reasons: d.reasons, revision: verdict.revision, retryAfterMs, ...(c ? { session: c } : {}) },
    },
  };
}

/** Listings whose entries the policy governs; tools/list is filtered by every front end that sees it. */
const filteredListings = new Set(listingMethods.filter((m) => m !== 'tools/list'));

/** Client mistakes at the transport and parse stages are logged at debug: the audit trail has them all. */
const quietStages = new Set<RefusalStage>(['transport', 'parse']);

const about = (call: ToolCall): About => (call.operation
  ? { method: call.operation.method, server: call.server, ...(call.operation.target !== undefined ? { target: call.operation.target } : {}) }
  : { method: 'tools/call', server: call.server, tool: call.tool });
