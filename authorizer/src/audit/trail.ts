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
// batches concurrent records into one write and one fdatasync. Records no call waits on
// (denials, refusals, responses, approvals, checkpoints) are written at once but synced with the
// next batch that holds an awaited one, or within syncWithinMs: a sequential caller then waits
// for one fdatasync per call, not two (its response record's and its next decision's). Every
// lost record is logged and counted in toolgate_authorizer_audit_write_errors_total.
//
// With a signing key, the queue also seals the chain with signed checkpoint lines
// (checkpoint.ts): after every checkpointEvery records, every checkpointIntervalMs when records
// were written since the last one, and on close.
//
// Sinks (sinks/): every line the file takes — the open line of a new file included — is then
// offered, as the same chained text, to each configured sink's channel. A required sink is part
// of "written": its decisions settle once it holds them, and fail when it cannot; an async sink
// never holds a decision up. A sink's dropped lines are declared by an overflow record chained
// here like any other (sinks/channel.ts).
import { mkdir, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { DecisionRecord } from '../gate/decision-path.ts';
import type { RefusalRecord } from '../gate/outcome.ts';
import { createAuditMetrics, type AuditMetrics } from './metrics.ts';
import type { RedactionOptions } from '../../../pkg/redact/redact.ts';
import type { ToolCall } from '../gate/types.ts';
import { signCheckpoint, type CheckpointSigner } from './checkpoint.ts';
import { approvalBody, chain, checkLine, decisionBody, headAfter, openLine, recordContext, refusalBody, responseBody, serialize, type ApprovalEvent, type AuditCheckpointBody, type AuditLine, type Recordable, type RecordContext, type ResponseEvent } from './record.ts';
import { SinkChannel, type Declaration, type SinkChannelOptions, type SinkEntry } from './sinks/channel.ts';
import { checkOverflowLine, type AuditOverflowBody } from './sinks/overflow.ts';
import { fileLines } from './verify.ts';
import { expiredSegments, rotatedFiles, rotationDue, segmentInfo, segmentPath, trailFiles, utcDay, type RotationSettings, type SegmentInfo } from './rotation.ts';
import { defaultRetention, type RetentionPolicy } from './sinks/retention.ts';
import type { AuditExpiryBody } from './record.ts';

export interface AuditTrailOptions {
  file: string;
  log: Logger;
  registry?: Registry;
  /**
   * fdatasync (default true): a record the pod wrote survives a node crash. A batch holding a
   * record someone waits on before a call goes out (a decision that lets it proceed or holds it)
   * is synced before they are told it is written; the others (denials, refusals, responses,
   * approvals, checkpoints) are written at once and synced by the next such batch or within
   * syncWithinMs, whichever comes first. fdatasync covers every byte written before it, so the
   * durable part of the file is always a prefix of the chain.
   */
  fsync?: boolean;
  /** The longest a written record waits for its fdatasync when no durable batch comes first (default 100 ms). */
  syncWithinMs?: number;
  now?: () => Date;
  /** This authorizer instance (pod name): its chain's name in the open line and checkpoints. */
  instance?: string;
  /** Key of the arguments HMAC (AUDIT_DIGEST_KEY_FILE); without it digests correlate within this process only. */
  digestKey?: Uint8Array;
  /** Detectors and personal fields of the redaction (pkg/redact). */
  redaction?: RedactionOptions;
  /** The scopes a call's tool needs, for the record's `scopes` (the policy's classification). */
  requiredScopes?: (call: ToolCall) => string[] | undefined;
  /** Argument fields the policy marks personal for a call's tool (data.toolgate.gateway.personalFields). */
  personalFields?: (call: ToolCall) => readonly string[] | undefined;
  /** Signs checkpoints (AUDIT_SIGNING_KEY_FILE); without it the chain is not sealed. */
  signer?: CheckpointSigner;
  /** A checkpoint after this many records (default 1000). */
  checkpointEvery?: number;
  /** A checkpoint this often while records are written (default 60000 ms). */
  checkpointIntervalMs?: number;
  /** Where the lines go besides the file, each with its own buffer and mode. */
  sinks?: AuditSinkSettings[];
  /** On close, how long the sinks get to deliver their backlog before it is declared dropped. Default 5 s. */
  sinkCloseTimeoutMs?: number;
  /** Rotate the file by size and/or day (rotation.ts); without it the file grows and nothing expires. */
  rotation?: RotationSettings;
  /** How long rotated files are kept (default 12 months, 36 for long-retention labels). */
  retention?: RetentionPolicy;
  /** How often rotated files are checked for expiry (default 1 h; 0: only when sweepRetention() is called). */
  retentionSweepMs?: number;
}

export type AuditSinkSettings = Omit<SinkChannelOptions, 'metrics' | 'log' | 'declare'>;

/** A queued record and, when someone waits for it, how to tell them whether it was written. */
interface Pending {
  /** A record, 'seal' (a checkpoint, signed when its place in the chain is known) or 'sync' (the deferred fdatasync is due). */
  body: Recordable | 'seal' | 'sync';
  settle?: (written: WriteResult) => void;
  /** Synced before settling: a call waits on this record before it goes out. */
  durable?: boolean;
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
  #fh: FileHandle;
  readonly #now: () => Date;
  #size: number;
  /** The active file's first seq and the UTC day of its first line (rotation.ts). */
  #activeFirstSeq = 0;
  #activeDay: string | undefined;
  /** What the retention sweep read of each rotated file (they never change once rotated). */
  readonly #segments = new Map<string, SegmentInfo | undefined>();
  #sweeping: Promise<string[]> | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #head: { seq: number; prev: string };
  readonly #ctx: RecordContext;
  /** The chain's name: the open line's instance (a restarted pod under another name continues it). */
  #instance: string;
  /** Checkpoints so far in this file, and records since the last one. */
  #checkpoints = 0;
  #unsealed = 0;
  #timer: NodeJS.Timeout | undefined;
  #pending: Pending[] = [];
  #draining: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  /** Set when a failed write could not be undone: the file's tail is unknown, nothing more is appended. */
  #broken: string | undefined;
  /** Whether lines were written since the last fdatasync, and the timer that syncs them within syncWithinMs. */
  #unsynced = false;
  #syncTimer: NodeJS.Timeout | undefined;
  readonly #sinks: SinkChannel[];
  #sinksClosed = false;

  private constructor(o: AuditTrailOptions, fh: FileHandle, size: number, head: { seq: number; prev: string }) {
    this.#o = o;
    this.file = o.file;
    this.#fh = fh;
    this.#size = size;
    this.#head = head;
    this.#now = o.now ?? (() => new Date());
    this.metrics = createAuditMetrics(o.registry ?? new Registry());
    this.#instance = o.instance ?? 'authorizer';
    this.#ctx = recordContext({ instance: this.#instance, ...(o.digestKey ? { digestKey: o.digestKey } : {}), ...(o.redaction ? { redaction: o.redaction } : {}), ...(o.requiredScopes ? { requiredScopes: o.requiredScopes } : {}), ...(o.personalFields ? { personalFields: o.personalFields } : {}) });
    this.#startSealing();
    this.#startSweeping();
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
      const rotated = size === 0 ? await rotatedFiles(o.file) : [];
      if (size === 0 && rotated.length > 0) {
        // Rotated and restarted before the next line: the chain goes on from the last rotated file.
        const lastFile = rotated.at(-1)!;
        const tail = await readLastLine(lastFile, (await stat(lastFile)).size);
        const checked = tail.terminated ? checkLine(tail.text) : { ok: false as const, reason: 'its last line has no newline' };
        if (!checked.ok) throw new AuditTrailError(`audit trail ${lastFile}: the last rotated file's last line does not verify: ${checked.reason}; refusing to continue the chain`);
        const trail = new AuditTrail(o, fh, 0, headAfter(checked.line));
        trail.#activeFirstSeq = trail.#head.seq + 1;
        if (o.signer) await trail.#readChainState();
        o.log.info({ file: o.file, seq: trail.#head.seq }, 'audit trail continues the chain of its rotated files');
        return trail;
      }
      if (size === 0) {
        const opening = openLine(o.instance ?? 'authorizer', o.now?.() ?? new Date());
        const first = serialize(opening);
        await fh.write(first);
        if (o.fsync !== false) await fh.datasync();
        const trail = new AuditTrail(o, fh, Buffer.byteLength(first), headAfter(opening));
        trail.#activeDay = opening.time.slice(0, 10);
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
      const trail = new AuditTrail(o, fh, size, head);
      const firstLine = await firstLineOf(o.file);
      trail.#activeFirstSeq = firstLine.seq;
      trail.#activeDay = firstLine.day;
      if (o.signer) await trail.#readChainState();
      return trail;
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
  }

  async #readChainState(): Promise<void> {
    const chain = await chainState(await trailFiles(this.file));
    this.#checkpoints = chain.checkpoints;
    if (chain.instance !== undefined) this.#instance = chain.instance;
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
    // A call that proceeds or is held waits for this record (gate.ts), so it is synced first;
    // a denial is answered without waiting, and its record rides the next sync.
    return new Promise((settle) => this.#queue(() => decisionBody(r, this.#ctx, this.#now()), r.verdict.decisionId, { settle, durable: r.verdict.effect !== 'deny' }));
  }

  /** Queues what became of a held call (released, denied, expired, ...); never throws. */
  recordApproval(e: ApprovalEvent): void {
    this.#queue(() => approvalBody(e, this.#ctx, this.#now()), e.verdict.decisionId);
  }

  /** Queues one refusal (the gate's, wherever it refused); never throws. */
  recordRefusal(r: RefusalRecord): void {
    this.#queue(() => refusalBody(r, this.#ctx, this.#now()), r.decisionId);
  }

  /**
   * Queues what the upstream answered a call that proceeded; settles once written, or says why
   * it was lost; never throws or rejects. A lost response record never withholds the answer (the
   * upstream has acted, and the decision record, written before the call went out, proves it;
   * withholding would only invite a retry that repeats the action): it is counted in
   * toolgate_authorizer_audit_response_records_lost_total and logged with its decision id.
   */
  recordResponse(e: ResponseEvent): Promise<WriteResult> {
    return new Promise((settle) => this.#queue(() => responseBody(e, this.#ctx, this.#now()), e.decisionId, { settle: (written) => {
      if (!written.ok) {
        this.metrics.responseRecordsLost.inc();
        this.#o.log.warn({ decisionId: e.decisionId, server: e.server, reason: written.reason }, 'response record lost; the answer was relayed (its decision record holds the call)');
      }
      settle(written);
    } }));
  }

  /** A sink's overflow, declared in the chain (sinks/overflow.ts); never throws. */
  #declare(d: Declaration): void {
    const body = (): Recordable => ({ body: { type: 'overflow', version: 2, time: this.#now().toISOString(), sink: d.sink, dropped: d.count, seqs: d.ranges, reason: d.reason } satisfies AuditOverflowBody });
    this.#queue(body, undefined, { declares: d.sink });
  }

  #queue(build: () => Recordable, decisionId: string | undefined, extra: Omit<Pending, 'body'> = {}): void {
    let body: Recordable;
    try {
      // While closing, only the sinks' last declarations still go in.
      if (this.#closing && !extra.declares) throw new Error('the audit trail is closed');
      body = build();
    } catch (err) {
      this.#lost([extra], err, decisionId);
      return;
    }
    this.#pending.push({ ...extra, body });
    this.#draining ??= this.#drain();
  }

  /** Queues the deferred fdatasync syncWithinMs after the first unsynced write. */
  #scheduleSync(): void {
    if (this.#syncTimer) return;
    this.#syncTimer = setTimeout(() => {
      this.#syncTimer = undefined;
      this.#pending.push({ body: 'sync' });
      this.#draining ??= this.#drain();
    }, this.#o.syncWithinMs ?? 100);
    this.#syncTimer.unref();
  }

  /**
   * fdatasync. A failure while earlier batches were written unsynced stops the trail: after a
   * failed fdatasync Linux may drop the dirty pages and report success next time, so whether
   * those records are on disk cannot be known any more (and they were already reported written).
   */
  async #sync(): Promise<void> {
    try {
      await this.#fh.datasync();
    } catch (err) {
      if (this.#unsynced) {
        this.#broken = `fdatasync failed (${errorText(err)}) with records written since the last sync; whether they are on disk is unknown`;
        this.#o.log.error({ file: this.file, err: errorText(err) }, 'audit trail stopped: restart the authorizer to re-check the tail');
      }
      throw err;
    }
    this.#unsynced = false;
  }

  /** Resolves once everything queued so far is written (or counted as lost). */
  async flush(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#timer) clearInterval(this.#timer);
      if (this.#sweepTimer) clearInterval(this.#sweepTimer);
      if (this.#syncTimer) clearTimeout(this.#syncTimer);
      await this.#sweeping?.catch(() => undefined);
      await this.flush();
      // The closing seal: a trail that ends on a checkpoint was not cut after it.
      await this.#sealNow();
      await this.#closeSinks();
      // The sinks' last declarations are sealed too (in the file; the sinks are closed by now).
      await this.#sealNow();
      await this.#fh.datasync().catch(() => undefined);
      await this.#fh.close();
      // The head in the log is the anchor that shows a later cut of whole lines at the tail.
      this.#o.log.info({ file: this.file, seq: this.#head.seq, hash: this.#head.prev }, 'audit trail closed');
    })();
    return this.#closing;
  }

  /** Queues a checkpoint when records were written since the last one, and waits for it. */
  async #sealNow(): Promise<void> {
    if (!this.#o.signer || this.#unsealed === 0 || this.#broken) return;
    this.#pending.push({ body: 'seal' });
    this.#draining ??= this.#drain();
    await this.flush();
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
    this.#sinksClosed = true;
  }

  /** Offers written lines to every sink; the reasons the required ones did not take them. */
  async #fanOut(entries: SinkEntry[]): Promise<string[]> {
    if (this.#sinks.length === 0 || this.#sinksClosed) return [];
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
    if (this.#o.rotation && !this.#broken && rotationDue({ size: this.#size, firstLineDay: this.#activeDay, now: this.#now(), settings: this.#o.rotation })) await this.#rotate();
    // Checked after the rotation too: its fdatasync may be the one that failed.
    if (this.#broken) {
      this.#lost(batch.filter((p) => typeof p.body !== 'string'), new Error(this.#broken));
      return;
    }
    let { seq, prev } = this.#head;
    let text = '';
    const written: Pending[] = [];
    let checkpoints = this.#checkpoints;
    let unsealed = this.#unsealed;
    const every = this.#o.checkpointEvery ?? 1000;
    const seal = async () => {
      // A seal queued by the timer or close after one the count already wrote seals nothing new.
      if (unsealed === 0) return;
      const body = await this.#seal(checkpoints + 1, seq + 1, prev);
      if (!body) return;
      const line = chain({ body }, seq + 1, prev);
      const serialized = serialize(line);
      text += serialized;
      entries.push({ seq: seq + 1, line: serialized.slice(0, -1) });
      seq += 1;
      prev = line.hash;
      checkpoints++;
      unsealed = 0;
    };
    const entries: SinkEntry[] = [];
    const fsync = this.#o.fsync !== false;
    let syncDue = false;
    for (const p of batch) {
      if (p.body === 'sync') {
        syncDue = true;
        continue;
      }
      if (p.body === 'seal') {
        await seal();
        continue;
      }
      if (p.durable) syncDue = true;
      // One record that has no JSON form is lost alone, not with the whole batch.
      try {
        // An overflow record is chained like the others (its contract: sinks/overflow.ts).
        const line = chain(p.body, seq + 1, prev);
        const serialized = serialize(line as AuditLine);
        text += serialized;
        entries.push({ seq: seq + 1, line: serialized.slice(0, -1), ...(p.declares ? { declares: p.declares } : {}) });
        seq += 1;
        prev = line.hash;
        written.push(p);
      } catch (err) {
        this.#lost([p], err);
        continue;
      }
      if (this.#o.signer && ++unsealed >= every) await seal();
    }
    if (text === '') {
      // Only the deferred sync was due (a failure has stopped the trail, see #sync).
      if (syncDue && fsync && this.#unsynced) await this.#sync().catch(() => undefined);
      return;
    }
    const bytes = Buffer.from(text, 'utf8');
    try {
      const { bytesWritten } = await this.#fh.write(bytes);
      if (bytesWritten !== bytes.length) throw new Error(`short write: ${bytesWritten} of ${bytes.length} bytes`);
      if (fsync && syncDue) await this.#sync();
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
    if (fsync && !syncDue) {
      this.#unsynced = true;
      this.#scheduleSync();
    }
    if (this.#size === 0) this.#activeDay = utcDay(this.#now());
    this.#size += bytes.length;
    this.#head = { seq, prev };
    this.#checkpoints = checkpoints;
    this.#unsealed = unsealed;
    if (written.length > 0) this.metrics.records.inc(written.length);
    const refused = await this.#fanOut(entries);
    // In the file, but a required sink does not hold it: the decision is not written as configured.
    const result: WriteResult = refused.length ? { ok: false, reason: refused.join('; ') } : { ok: true };
    for (const p of written) p.settle?.(result);
  }

  /**
   * Moves the active file aside as <file>.<its first seq> and starts an empty one; the next line
   * continues the chain. A rename that fails leaves the file where it is (logged; tried again
   * before the next batch): writing on is better than refusing calls over a rotation.
   */
  async #rotate(): Promise<void> {
    const target = segmentPath(this.file, this.#activeFirstSeq);
    try {
      if (this.#o.fsync !== false) await this.#sync();
      await rename(this.file, target);
    } catch (err) {
      this.#o.log.error({ file: this.file, target, err: errorText(err) }, 'audit file not rotated');
      return;
    }
    const old = this.#fh;
    // O_APPEND on a fresh file: the rename already moved every written byte.
    this.#fh = await open(this.file, 'a', 0o600);
    await old.close().catch(() => undefined);
    this.#size = 0;
    this.#activeFirstSeq = this.#head.seq + 1;
    this.#activeDay = undefined;
    this.metrics.rotations.inc();
    this.#o.log.info({ file: this.file, rotated: target, seq: this.#head.seq }, 'audit file rotated');
  }

  /**
   * Deletes the rotated files past their retention, oldest first, each only once an expiry
   * record naming it is written (rotation.ts). Returns the files deleted. Never throws: a
   * failure is logged and counted, and the file is tried again on the next sweep.
   */
  sweepRetention(): Promise<string[]> {
    this.#sweeping ??= this.#sweep().finally(() => { this.#sweeping = undefined; });
    return this.#sweeping;
  }

  async #sweep(): Promise<string[]> {
    const deleted: string[] = [];
    try {
      const policy = this.#o.retention ?? defaultRetention;
      const files = await rotatedFiles(this.file);
      const infos: Array<SegmentInfo | undefined> = [];
      for (const f of files) {
        if (!this.#segments.has(f)) this.#segments.set(f, await segmentInfo(f, policy));
        infos.push(this.#segments.get(f));
      }
      for (const s of expiredSegments(infos, this.#now())) {
        const body: AuditExpiryBody = {
          type: 'expiry', version: 2, time: this.#now().toISOString(), instance: this.#instance, file: basename(s.path),
          seqs: [s.first, s.last], lastHash: s.lastHash, lines: s.lines, keptUntil: s.keptUntil.toISOString(),
        };
        const written = await new Promise<WriteResult>((settle) => this.#queue(() => ({ body }), undefined, { settle }));
        if (!written.ok) {
          this.#o.log.error({ file: s.path, reason: written.reason }, 'expired audit file kept: its expiry record was not written');
          break;
        }
        await unlink(s.path);
        this.#segments.delete(s.path);
        deleted.push(s.path);
        this.metrics.expired.inc();
        this.#o.log.info({ file: s.path, seqs: [s.first, s.last], keptUntil: s.keptUntil.toISOString() }, 'expired audit file deleted');
      }
    } catch (err) {
      this.metrics.expiryErrors.inc();
      this.#o.log.error({ file: this.file, err: errorText(err) }, 'audit retention sweep failed');
    }
    return deleted;
  }

  #startSweeping(): void {
    const every = this.#o.retentionSweepMs ?? 3_600_000;
    if (!this.#o.rotation || every === 0) return;
    this.#sweepTimer = setInterval(() => {
      if (!this.#closing) void this.sweepRetention();
    }, every);
    this.#sweepTimer.unref();
  }

  /** Checkpoints on a timer while records come in (the timer never keeps the process alive). */
  #startSealing(): void {
    if (!this.#o.signer) return;
    this.#timer = setInterval(() => {
      if (this.#unsealed === 0 || this.#closing || this.#broken) return;
      this.#pending.push({ body: 'seal' });
      this.#draining ??= this.#drain();
    }, this.#o.checkpointIntervalMs ?? 60_000);
    this.#timer.unref();
  }

  /** The checkpoint at seq, signed; undefined (and logged) when signing failed: the chain goes on unsealed. */
  async #seal(index: number, seq: number, prev: string): Promise<AuditCheckpointBody | undefined> {
    const signer = this.#o.signer;
    if (!signer) return undefined;
    try {
      const jws = await signCheckpoint(signer, { instance: this.#instance, index, seq, prev });
      return { type: 'checkpoint', version: 2, time: this.#now().toISOString(), instance: this.#instance, index, keyId: signer.keyId, jws };
    } catch (err) {
      this.#o.log.error({ file: this.file, err: errorText(err) }, 'audit checkpoint not signed');
      return undefined;
    }
  }

  #lost(records: ReadonlyArray<Pick<Pending, 'settle'>>, err: unknown, decisionId?: string): void {
    this.metrics.writeErrors.inc(records.length);
    this.#o.log.error({ file: this.file, records: records.length, ...(decisionId ? { decisionId } : {}), err: errorText(err) }, 'audit records lost: not written to the trail');
    for (const p of records) p.settle?.({ ok: false, reason: `the audit record could not be written to ${this.file}: ${errorText(err)}` });
  }
}

/** The chain's name (its open line's instance) and its last checkpoint's index (0 when none), so a restart seals on under them. */
async function chainState(paths: readonly string[]): Promise<{ instance?: string; checkpoints: number }> {
  let checkpoints = 0;
  let instance: string | undefined;
  let first = true;
  for (const path of paths) {
    for await (const { text } of fileLines(path)) {
      if (first || text.includes('"type":"checkpoint"')) {
        const checked = checkLine(text);
        if (checked.ok && checked.line.type === 'open' && 'instance' in checked.line) instance = checked.line.instance;
        if (checked.ok && checked.line.type === 'checkpoint') {
          checkpoints = checked.line.index;
          // The open line may have expired with its file: the checkpoints name the chain too.
          instance ??= checked.line.instance;
        }
      }
      first = false;
    }
  }
  return { ...(instance !== undefined ? { instance } : {}), checkpoints };
}

/** The seq and UTC day of a file's first line (rotation needs both). */
async function firstLineOf(path: string): Promise<{ seq: number; day?: string }> {
  for await (const { text } of fileLines(path)) {
    try {
      const l = JSON.parse(text) as { seq?: unknown; time?: unknown };
      return { seq: typeof l.seq === 'number' ? l.seq : 0, ...(typeof l.time === 'string' ? { day: l.time.slice(0, 10) } : {}) };
    } catch {
      return { seq: 0 };
    }
  }
  return { seq: 0 };
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
