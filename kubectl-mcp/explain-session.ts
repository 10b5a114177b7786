// `kubectl mcp explain --session`: the taint the authorizers recorded for a session and its
// caller (McpSessionTaint, read with the user's credentials), for the gate to decide with. Read
// only: explain never records a call's taint, whatever it decides.
import { pino } from 'pino';
import { KubeError, type KubeClient } from '../pkg/kube/client.ts';
import { KubeTaintStore, SessionState, sessionKeys, type TaintEntry, type TaintStore } from '../authorizer/src/session/index.ts';
import { CliError } from './cli.ts';

export interface SessionView {
  issuer: string;
  subject: string;
  sessionId?: string;
  /** Every entry of the session's and the caller's taint. */
  taint: TaintEntry[];
  state: SessionState;
}

export async function sessionTaint(client: KubeClient, o: { namespace: string; issuer: string; subject: string; sessionId?: string }): Promise<SessionView> {
  if (o.subject === '') throw new CliError('--session needs the caller: pass --subject (the token subject) or --operator');
  const store = new KubeTaintStore({ client, namespace: o.namespace, log: pino({ level: 'silent' }) });
  const keys = sessionKeys({ issuer: o.issuer, subject: o.subject }, o.sessionId, undefined);
  const taint: TaintEntry[] = [];
  try {
    for (const key of new Set([keys.session, keys.caller])) taint.push(...await store.fresh(key));
  } catch (e) {
    if (e instanceof KubeError && e.code === 403) throw new CliError(`cannot read McpSessionTaints in namespace ${o.namespace}: ${(e as Error).message} (ask for get on mcpsessiontaints there, or pass --taint-namespace)`);
    throw e;
  }
  const readOnly: TaintStore = { cached: (k) => store.cached(k), fresh: (k) => store.fresh(k), add: async () => undefined };
  return { issuer: o.issuer, subject: o.subject, ...(o.sessionId !== undefined ? { sessionId: o.sessionId } : {}), taint, state: new SessionState({ taint: readOnly }) };
}
