// Chat notifications recorded on the ApprovalRequest itself (status.notifications, field manager
// toolgate-notifier), so that a crash between the phase write and the send neither loses nor
// repeats a message beyond what the chat platform makes unavoidable. Protocol per (request, event):
//
//   1. record {state: Sending, attempts: n+1}     — before anything leaves the process
//   2. POST the message to the webhook (with its own retries)
//   3. record {state: Sent} (or Failed, with why)
//
// Whoever reconciles the request (this process later, or the next leader after a crash) reads the
// record: no record → send (a crash between the phase write and step 1 loses nothing); Sent or
// Failed → never again; Sending → the crash fell between 1 and 3, and whether the message arrived
// is unknowable: send once more, up to maxAttempts in all, then Failed. That is at-least-once with
// a bounded repeat: a crash in the instant between the webhook's 200 and step 3 yields one
// duplicate. Exactly-once is not on offer: Slack incoming webhooks take no idempotency key, so
// the message says which request and event it is (ApprovalRequest name in its context line) for a
// human to recognise a repeat. Step 1 failing (API server unreachable) sends nothing, and the
// request is retried on the next reconcile.
import type { Logger } from 'pino';
import { apiVersion, type ApprovalRequest, type NotificationRecord } from '../../../api/v1alpha1/index.ts';
import type { KubeClient } from '../../../pkg/kube/client.ts';
import { errorMessage } from '../../../pkg/observability/log.ts';
import type { ChatMessage } from './approval-message.ts';
import type { WebhookNotifier } from './approval-notifier.ts';

export const notifierFieldManager = 'toolgate-notifier';

/** Where records live; the real one is the ApprovalRequest's status (statusRecords). */
export interface NotificationRecords {
  /** Replaces the notifier's entries on the request (all of them: server-side apply drops what a manager omits). */
  write(ar: ApprovalRequest, entries: NotificationRecord[]): Promise<void>;
}

export function statusRecords(client: KubeClient): NotificationRecords {
  return {
    async write(ar, entries) {
      const { name, namespace, uid } = ar.metadata;
      // The uid makes the write fail on a recreated namesake instead of recording on it.
      await client.apply(
        { group: 'toolgate.io', version: 'v1alpha1', plural: 'approvalrequests', namespace, name, subresource: 'status' },
        { apiVersion, kind: 'ApprovalRequest', metadata: { name, namespace, uid }, status: { notifications: entries } },
        notifierFieldManager,
      );
    },
  };
}

/** Test hook: a crash at a step is simulated by throwing from here. */
export type CrashPoint = 'before-sending-record' | 'after-sending-record' | 'after-send';

export interface LedgerOptions {
  notifier: WebhookNotifier;
  records: NotificationRecords;
  log: Logger;
  /** Deliveries started per event before it is given up (default 3). */
  maxAttempts?: number;
  /** A decision older than this is not announced late (an upgrade must not flood chat with history). Default 1 h. */
  staleAfterMs?: number;
  crash?: (point: CrashPoint, event: string) => void;
  now?: () => number;
}

export interface DueNotification {
  event: string;
  message: ChatMessage;
  /** When what it announces happened (creation, or the decision). */
  at: number;
}

export class NotificationLedger {
  private readonly o: Required<Omit<LedgerOptions, 'crash'>> & Pick<LedgerOptions, 'crash'>;
  /** (uid|event) this process has started: the watch echo of our own Sending record must not resend. */
  private readonly started = new Set<string>();
  /** Sent, but the Sent record did not land (API server briefly away): record it, never resend. */
  private readonly unrecorded = new Map<string, NotificationRecord>();
  /** What this process last wrote per request: the informer's copy may lag behind our own writes. */
  private readonly written = new Map<string, NotificationRecord[]>();

  constructor(o: LedgerOptions) {
    this.o = { maxAttempts: 3, staleAfterMs: 3_600_000, now: Date.now, ...o };
  }

  /** Sends what is due and not yet recorded as done; returns when every step has been taken. */
  async reconcile(ar: ApprovalRequest, due: DueNotification[]): Promise<void> {
    const uid = ar.metadata.uid;
    if (!uid || this.o.notifier.stopped) return;
    for (const d of due) {
      const id = `${uid}|${d.event}`;
      const pending = this.unrecorded.get(id);
      if (pending) {
        await this.put(ar, pending);
        this.unrecorded.delete(id);
        continue;
      }
      if (this.started.has(id)) continue;
      const record = this.entries(ar).find((e) => e.event === d.event);
      if (record?.state === 'Sent' || record?.state === 'Failed') continue;
      if (!record && this.o.now() - d.at > this.o.staleAfterMs) continue;
      this.started.add(id);
      if (this.started.size > 50_000) this.started.delete(this.started.values().next().value as string);
      await this.deliver(ar, d, record, id);
    }
  }

  private entries(ar: ApprovalRequest): NotificationRecord[] {
    const ours = this.written.get(ar.metadata.uid ?? '');
    const theirs = ar.status?.notifications ?? [];
    if (!ours) return theirs;
    return [...theirs.filter((t) => !ours.some((o) => o.event === t.event)), ...ours];
  }

  private async put(ar: ApprovalRequest, entry: NotificationRecord): Promise<void> {
    const next = [...this.entries(ar).filter((e) => e.event !== entry.event), entry];
    await this.o.records.write(ar, next);
    this.written.set(ar.metadata.uid ?? '', next);
    if (this.written.size > 10_000) this.written.delete(this.written.keys().next().value as string);
  }

  private async deliver(ar: ApprovalRequest, d: DueNotification, record: NotificationRecord | undefined, id: string): Promise<void> {
    const time = () => new Date(this.o.now()).toISOString().replace(/\.\d+Z$/, 'Z');
    const attempts = (record?.attempts ?? 0) + 1;
    const log = this.o.log.child({ notification: id, attempts });
    let done: NotificationRecord | undefined;
    try {
      if (attempts > this.o.maxAttempts) {
        await this.put(ar, { event: d.event, state: 'Failed', attempts: record?.attempts ?? 0, time: time(), message: `gave up after ${this.o.maxAttempts} deliveries whose outcome a restart cut short` });
        log.error('approval notification given up: restarted too often mid-delivery');
        return;
      }
      this.o.crash?.('before-sending-record', d.event);
      await this.put(ar, { event: d.event, state: 'Sending', attempts, time: time() });
      this.o.crash?.('after-sending-record', d.event);
      if (record?.state === 'Sending') log.warn('approval notification resent: an earlier delivery was cut short and may or may not have arrived');
      const result = await this.o.notifier.send(id, d.event, d.message);
      if (result.kind === 'aborted') return;
      this.o.crash?.('after-send', d.event);
      done = result.kind === 'sent'
        ? { event: d.event, state: 'Sent', attempts, time: time() }
        : { event: d.event, state: 'Failed', attempts, time: time(), message: result.message.slice(0, 1024) };
      await this.put(ar, done);
    } catch (err) {
      // Delivered but not recorded: only the record is retried. Not delivered: the next
      // reconcile (here, or in the next leader) takes the event up again.
      if (done) this.unrecorded.set(id, done);
      else this.started.delete(id);
      throw err;
    }
  }
}

export function logLedgerError(log: Logger, ar: ApprovalRequest, err: unknown): void {
  log.warn({ key: `${ar.metadata.namespace}/${ar.metadata.name}`, err: errorMessage(err) }, 'cannot record an approval notification; retrying on the next reconcile');
}
