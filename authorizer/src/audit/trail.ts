// The audit trail: one hash-chained JSON line per tools/call decision, per outcome of a held call
// and per refusal, appended to a file this pod alone writes (one file per pod; two writers on one
// file would fork the chain).
//
// The DecisionPath calls record() synchronously; the line is written later by a single async
// queue that takes its seq and prev from the last line actually written. So the chain never
// forks, and a failed write (disk full, I/O error) loses only the records of that batch: the
// file is cut back to its last good line and the next batch chains from there.
//
// A call is let through only once its decision is on disk: the gate awaits recordDecision()
// (which settles when the batch holding the record was written, or was lost) and refuses the
// call when the record could not be written, unless the governing policy says
// spec.audit.onFailure: Allow. The disk is on the latency path of allowed calls; the queue still
// batches concurrent records into one write and one fdatasync. Every lost record is logged and
// counted in toolgate_authorizer_audit_write_errors_total.
//
// Sinks (sinks/): every line the file takes — the open line of a new file included — is then
// offered, as the same chained text, to each configured sink's channel. A required sink is part
// of "written": its decisions settle once it holds them, and fail when it cannot; an async sink
// never holds a decision up. A sink's dropped lines are declared by an overflow record chained
// here like any other (sinks/channel.ts).
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { DecisionRecord } from '../gate/decision-path.ts';
import type { RefusalRecord } from '../gate/outcome.ts';
import { createAuditMetrics, type AuditMetrics } from './metrics.ts';
import { approvalBody, chain, checkLine, decisionBody, headAfter, openLine, refusalBody, serialize, type ApprovalEvent, type AuditBody, type AuditLine } from './record.ts';
import { SinkChannel, type Declaration, type SinkChannelOptions, type SinkEntry } from './sinks/channel.ts';
import { checkOverflowLine, type AuditOverflowBody } from './sinks/overflow.ts';
import { fileLines } from './verify.ts';

export interface AuditTrailOptions {
  file: string;
  log: Logger;
  registry?: Registry;
  /** fdatasync after each batch (default true): a record the pod wrote survives a node crash. */
  fsync?: boolean;
  now?: () => Date;
  /** Where the lines go besides the file, each with its own buffer and mode. */
  sinks?: AuditSinkSettings[];
  /** On close, how long the sinks get to deliver their backlog before it is declared dropped. Default 5 s. */
  sinkCloseTimeoutMs?: number;
}

export type AuditSinkSettings = Omit<SinkChannelOptions, 'metrics' | 'log' | 'declare'>;

/** A queued record and, when someone waits for it, how to tell them whether it was written. */
interface Pending {
  body: AuditBody | AuditOverflowBody;
  settle?: (written: WriteResult) => void;
  /** An overflow record: the sink whose gap it declares. */
  declares?: string;
}

export type WriteResult = { ok: true } | { ok: false; reason: string };

export class AuditTrailError extends Error {
  override name = 'AuditTrailError';
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class AuditTrail {
  readonly file: string;
  readonly metrics: AuditMetrics;
  readonly #o: AuditTrailOptions;
  readonly #fh: FileHandle;
  readonly #now: () => Date;
  #size: number;
  #head: { seq: number; prev: string };
  #pending: Pending[] = [];
  #draining: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  /** Set when a failed write could not be undone: the file's tail is unknown, nothing more is appended. */
  #broken: string | undefined;
  readonly #sinks: SinkChannel[];

  private constructor(o: AuditTrailOptions, fh: FileHandle, size: number, head: { seq: number; prev: string }) {
    this.#o = o;
    this.file = o.file;
    this.#fh = fh;
    this.#size = size;
    this.#head = head;
    this.#now = o.now ?? (() => new Date());
    this.metrics = createAuditMetrics(o.registry ?? new Registry());
    this.#sinks = (o.sinks ?? []).map((s) => new SinkChannel({ ...s, metrics: this.metrics, log: o.log, declare: (d) => this.#declare(d) }));
  }

  /**
   * Opens (or creates) the trail. An existing file continues its chain from its last line,
   * which must verify; otherwise this throws naming the line, and the authorizer does not start
   * rather than write records no verifier would accept.
   */
  static async open(o: AuditTrailOptions): Promise<AuditTrail> {
    await mkdir(dirname(o.file), { recursive: true });
    const fh = await open(o.file, 'a', 0o600);
    try {
      const { size } = await fh.stat();
      if (size === 0) {
        const opening = openLine(o.now?.() ?? new Date());
        const first = serialize(opening);
        await fh.write(first);
        if (o.fsync !== false) await fh.datasync();
        const trail = new AuditTrail(o, fh, Buffer.byteLength(first), headAfter(opening));
        // Sinks get the open line too, so a sink's copy verifies from its genesis.
        void trail.#fanOut([{ seq: 0, line: first.slice(0, -1) }]);
        o.log.info({ file: o.file }, 'audit trail created');
        return trail;
      }
      const tail = await readLastLine(o.file, size);
      if (!tail.terminated) throw new AuditTrailError(`audit trail ${o.file}: line ${await lineCount(o.file)} has no newline (cut mid-write?); refusing to continue a chain whose tail does not verify. Run the verifier, move the file aside and restart`);
      const checked = checkLine(tail.text);
      // The sinks' overflow records are chained like the others (sinks/overflow.ts).
      const overflow = checked.ok ? undefined : checkOverflowLine(tail.text);
      let head: { seq: number; prev: string };
      if (checked.ok) head = headAfter(checked.line);
      else if (overflow?.ok) head = { seq: overflow.line.seq, prev: overflow.line.hash };
      else throw new AuditTrailError(`audit trail ${o.file}: last line (line ${await lineCount(o.file)}) does not verify: ${overflow?.reason ?? checked.reason}; refusing to continue the chain. Run the verifier, move the file aside and restart`);
      o.log.info({ file: o.file, seq: head.seq }, 'audit trail continues an existing chain');
      return new AuditTrail(o, fh, size, head);
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
  }

  /** The last record written: seq and hash (after the open line: seq 0 and the genesis value). */
  get head(): { seq: number; prev: string } {
    return { ...this.#head };
  }

  /** The sinks' channels (backlog, state), in configuration order. */
  get sinks(): readonly SinkChannel[] {
    return this.#sinks;
  }

  /** Why nothing more is written, when a failed write could not be undone. */
  get broken(): string | undefined {
    return this.#broken;
  }

  /**
   * Queues one decision; settles once it is written, or says why it was lost. Never throws or
   * rejects (the decision path must not fail because of the audit; the gate decides what a
   * lost record means for the call).
   */
  record(r: DecisionRecord): Promise<WriteResult> {
    return new Promise((settle) => this.#queue(() => decisionBody(r, this.#now()), r.verdict.decisionId, settle));
  }

  /** Queues what became of a held call (released, denied, expired, ...); never throws. */
  recordApproval(e: ApprovalEvent): void {
    this.#queue(() => approvalBody(e, this.#now()), e.verdict.decisionId);
  }

  /** Queues one refusal (the gate's, wherever it refused); never throws. */
  recordRefusal(r: RefusalRecord): void {
    this.#queue(() => refusalBody(r, this.#now()), r.decisionId);
  }

  /** A sink's overflow, declared in the chain (sinks/overflow.ts); never throws. */
  #declare(d: Declaration): void {
    const body = (): AuditOverflowBody => ({ type: 'overflow', time: this.#now().toISOString(), sink: d.sink, dropped: d.count, seqs: d.ranges, reason: d.reason });
    this.#queue(body, undefined, undefined, d.sink);
  }

  #queue(build: () => AuditBody | AuditOverflowBody, decisionId: string | undefined, settle?: (r: WriteResult) => void, declares?: string): void {
    let body: AuditBody | AuditOverflowBody;
    try {
      // While closing, only the sinks' last declarations still go in.
      if (this.#closing && !declares) throw new Error('the audit trail is closed');
      body = build();
    } catch (err) {
      this.#lost([{ settle }], err, decisionId);
      return;
    }
    this.#pending.push({ body, ...(settle ? { settle } : {}), ...(declares ? { declares } : {}) });
    this.#draining ??= this.#drain();
  }

  /** Resolves once everything queued so far is written (or counted as lost). */
  async flush(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.flush();
      await this.#closeSinks();
      await this.#fh.datasync().catch(() => undefined);
      await this.#fh.close();
      // The head in the log is the anchor that shows a later cut of whole lines at the tail.
      this.#o.log.info({ file: this.file, seq: this.#head.seq, hash: this.#head.prev }, 'audit trail closed');
    })();
    return this.#closing;
  }

  /**
   * Sinks get sinkCloseTimeoutMs to deliver their backlog; what is left is declared dropped (an
   * overflow record in the file, offered to the sinks still taking lines), then they close.
   * Records queued from now on are refused: the declarations are the last lines.
   */
  async #closeSinks(): Promise<void> {
    if (this.#sinks.length === 0) return;
    const timeoutMs = this.#o.sinkCloseTimeoutMs ?? 5000;
    await Promise.all(this.#sinks.map((s) => s.drain(timeoutMs)));
    for (const s of this.#sinks) if (!s.settled) s.abandon();
    await this.flush();
    // The declarations themselves, to the sinks that are up.
    await Promise.all(this.#sinks.map((s) => s.drain(Math.min(timeoutMs, 1000))));
    await Promise.all(this.#sinks.map((s) => s.close().catch((err: unknown) => this.#o.log.error({ sink: s.name, err: errorText(err) }, 'audit sink did not close cleanly'))));
  }

  /** Offers written lines to every sink; the reasons the required ones did not take them. */
  async #fanOut(entries: SinkEntry[]): Promise<string[]> {
    if (this.#sinks.length === 0) return [];
    const results = await Promise.all(this.#sinks.map((s) => s.offer(entries)));
    return results.flatMap((r) => (r.ok ? [] : [r.reason]));
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending.length > 0) await this.#write(this.#pending.splice(0));
    } finally {
      this.#draining = undefined;
    }
  }

  async #write(batch: Pending[]): Promise<void> {
    if (this.#broken) {
      this.#lost(batch, new Error(this.#broken));
      return;
    }
    let { seq, prev } = this.#head;
    let text = '';
    const written: Pending[] = [];
    const entries: SinkEntry[] = [];
    for (const p of batch) {
      // One record that has no JSON form is lost alone, not with the whole batch.
      try {
        // An overflow record is chained like the others (its contract: sinks/overflow.ts).
        const line = chain(p.body as AuditBody, seq + 1, prev);
        const serialized = serialize(line as AuditLine);
        text += serialized;
        entries.push({ seq: seq + 1, line: serialized.slice(0, -1), ...(p.declares ? { declares: p.declares } : {}) });
        seq += 1;
        prev = line.hash;
        written.push(p);
      } catch (err) {
        this.#lost([p], err);
      }
    }
    if (written.length === 0) return;
    const bytes = Buffer.from(text, 'utf8');
    try {
      const { bytesWritten } = await this.#fh.write(bytes);
      if (bytesWritten !== bytes.length) throw new Error(`short write: ${bytesWritten} of ${bytes.length} bytes`);
      if (this.#o.fsync !== false) await this.#fh.datasync();
    } catch (err) {
      this.#lost(written, err);
      // Cut back to the last good line so the next batch chains onto a tail that verifies.
      try {
        await this.#fh.truncate(this.#size);
      } catch (truncErr) {
        this.#broken = `a failed write could not be undone (${errorText(truncErr)}); the tail of ${this.file} is unknown`;
        this.#o.log.error({ file: this.file, err: errorText(truncErr) }, 'audit trail stopped: restart the authorizer to re-check the tail');
      }
      return;
    }
    this.#size += bytes.length;
    this.#head = { seq, prev };
    this.metrics.records.inc(written.length);
    const refused = await this.#fanOut(entries);
    // In the file, but a required sink does not hold it: the decision is not written as configured.
    const result: WriteResult = refused.length ? { ok: false, reason: refused.join('; ') } : { ok: true };
    for (const p of written) p.settle?.(result);
  }

  #lost(records: ReadonlyArray<Pick<Pending, 'settle'>>, err: unknown, decisionId?: string): void {
    this.metrics.writeErrors.inc(records.length);
    this.#o.log.error({ file: this.file, records: records.length, ...(decisionId ? { decisionId } : {}), err: errorText(err) }, 'audit records lost: not written to the trail');
    for (const p of records) p.settle?.({ ok: false, reason: `the audit record could not be written to ${this.file}: ${errorText(err)}` });
  }
}

/** The file's last line, read backwards from the end in chunks (the trail can be large). */
async function readLastLine(path: string, size: number): Promise<{ text: string; terminated: boolean }> {
  const fh = await open(path, 'r');
  try {
    const chunk = 64 * 1024;
    let buf = Buffer.alloc(0);
    let pos = size;
    for (;;) {
      const terminated = buf.length > 0 && buf[buf.length - 1] === 0x0a;
      const searchEnd = terminated ? buf.length - 2 : buf.length - 1;
      const nl = searchEnd >= 0 ? buf.lastIndexOf(0x0a, searchEnd) : -1;
      if (nl >= 0 || pos === 0) {
        const text = buf.subarray(nl + 1, terminated ? buf.length - 1 : buf.length).toString('utf8');
        return { text, terminated };
      }
      const len = Math.min(chunk, pos);
      pos -= len;
      const part = Buffer.alloc(len);
      await fh.read(part, 0, len, pos);
      buf = Buffer.concat([part, buf]);
    }
  } finally {
    await fh.close();
  }
}

/** 1-based number of the last line (error messages only, so a full read is fine). */
async function lineCount(path: string): Promise<number> {
  let n = 0;
  for await (const _line of fileLines(path)) n++;
  return n;
}
