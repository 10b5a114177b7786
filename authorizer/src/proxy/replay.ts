// The proxy's own SSE streams are resumable (MCP 2025-11-25 transports, "Resumability and
// Redelivery"): every event carries an id `<stream>.<seq>`, each stream keeps a bounded window
// of what it sent, and a client that lost its connection GETs with Last-Event-ID to be sent
// what followed that event on that stream, then whatever comes next. The window is bounded per
// stream (events and bytes) and per session (streams), so a client that never comes back costs
// at most that, and the whole process keeps at most a ReplayBudget of event text across every
// session: past it the streams that recorded least recently are emptied first, so ten thousand
// sessions each holding a full window cannot take the pod's memory.

export interface ReplayLimits {
  /** Events kept per stream. */
  maxEvents: number;
  /** Bytes of event text kept per stream; an event larger than this alone is not kept. */
  maxBytes: number;
  /** Streams kept per session; the oldest finished ones go first. */
  maxStreams: number;
}

/** At most maxStreams × maxBytes (8 MiB) per session, held only for streams whose client may not have had everything. */
export const defaultReplayLimits: ReplayLimits = { maxEvents: 1000, maxBytes: 1024 * 1024, maxStreams: 8 };

/** Event text kept across every session of the process by default (16 MiB): far above what resuming clients need. */
export const defaultReplayBudgetBytes = 16 * 1024 * 1024;

/**
 * The event text every ReplayStream of the process keeps, bounded. Streams are kept in the
 * order they last recorded; when a record goes over the budget the least recently recording
 * streams are emptied (a client resuming from one of them is told its events are no longer kept).
 */
export class ReplayBudget {
  readonly maxBytes: number;
  #bytes = 0;
  /** Streams holding bytes, least recently recording first. */
  readonly #holders = new Set<ReplayStream>();
  /** Streams emptied to stay within the budget, for the metric. */
  streamsShed = 0;

  constructor(maxBytes: number = defaultReplayBudgetBytes) {
    this.maxBytes = maxBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** The kept total changed by `delta` bytes. */
  adjust(delta: number): void {
    this.#bytes += delta;
  }

  /** `s` just recorded: it is the last to be emptied. */
  touch(s: ReplayStream): void {
    this.#holders.delete(s);
    this.#holders.add(s);
  }

  /** `s` keeps nothing any more. */
  forget(s: ReplayStream): void {
    this.#holders.delete(s);
  }

  /** Over the budget after `s` recorded: the least recently recording streams are emptied first, `s` itself last. */
  makeRoom(s: ReplayStream): void {
    for (const oldest of this.#holders) {
      if (this.#bytes <= this.maxBytes) return;
      if (oldest === s) continue;
      this.streamsShed++;
      oldest.shed();
    }
    // Only `s` is left over the budget: it keeps its newest events that fit.
    if (this.#bytes > this.maxBytes) s.trim(s.bytes - (this.#bytes - this.maxBytes));
  }
}

/** The SSE text of one event with an id; JSON has no raw newlines, other text gets one data line per line. */
export function eventText(id: string, data: string): string {
  return `id: ${id}\nevent: message\n${data.split(/\r\n|\r|\n/).map((l) => `data: ${l}`).join('\n')}\n\n`;
}

export class ReplayStream {
  readonly id: string;
  readonly #limits: ReplayLimits;
  readonly #events: Array<{ seq: number; text: string }> = [];
  #bytes = 0;
  #seq = 0;
  /** The highest seq no longer kept: resuming from before it would skip events. */
  #dropped = 0;
  finished = false;
  /** The live writer of this stream while the request it answers is running (to re-attach a resumed client). */
  live: { attach(res: import('node:http').ServerResponse, afterSeq: number): void; readonly closed: boolean } | undefined;

  readonly #release: () => void;
  readonly #budget: ReplayBudget | undefined;

  constructor(id: string, limits: ReplayLimits, release: () => void = () => undefined, budget?: ReplayBudget) {
    this.id = id;
    this.#limits = limits;
    this.#release = release;
    this.#budget = budget;
  }

  /** Bytes of event text kept now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The client had every event (the stream ended while it was connected): nothing to keep. */
  release(): void {
    // Events recorded after this (a stream evicted while still running) are sent, not kept.
    this.#released = true;
    this.shed();
    this.#release();
  }

  #released = false;

  /** Keeps nothing from now on (the budget needed the room, or the stream is no longer kept). */
  shed(): void {
    const had = this.#bytes;
    this.#events.length = 0;
    this.#bytes = 0;
    this.#dropped = this.#seq;
    this.#budget?.adjust(-had);
    this.#budget?.forget(this);
  }

  /** Drops the oldest events until at most `maxBytes` are kept. */
  trim(maxBytes: number): void {
    const before = this.#bytes;
    this.#dropOldest(Number.POSITIVE_INFINITY, Math.max(0, maxBytes));
    this.#account(before, false);
  }

  /** Drops the oldest events while more than `maxEvents` or `maxBytes` are kept. */
  #dropOldest(maxEvents: number, maxBytes: number): void {
    while (this.#events.length > maxEvents || (this.#bytes > maxBytes && this.#events.length > 0)) {
      const gone = this.#events.shift()!;
      this.#bytes -= gone.text.length;
      this.#dropped = gone.seq;
    }
  }

  /** Tells the budget what changed since `before` bytes were kept; after a record, others may have to make room. */
  #account(before: number, recorded: boolean): void {
    const budget = this.#budget;
    if (!budget) return;
    budget.adjust(this.#bytes - before);
    if (this.#events.length === 0) return budget.forget(this);
    if (!recorded) return;
    budget.touch(this);
    if (budget.bytes > budget.maxBytes) budget.makeRoom(this);
  }

  /** The id of the stream's priming event (seq 0): resuming from it replays everything kept. */
  get primingId(): string {
    return `${this.id}.0`;
  }

  /** Gives the next event its id, keeps it in the window, and returns its SSE text. */
  record(data: string): string {
    const seq = ++this.#seq;
    const text = eventText(`${this.id}.${seq}`, data);
    if (this.#released) {
      this.#dropped = seq;
      return text;
    }
    const before = this.#bytes;
    this.#events.push({ seq, text });
    this.#bytes += text.length;
    this.#dropOldest(this.#limits.maxEvents, this.#limits.maxBytes);
    this.#account(before, true);
    return text;
  }

  /** The events after `seq`, or undefined when some of them have left the window. */
  after(seq: number): string[] | undefined {
    if (seq < this.#dropped || seq > this.#seq) return undefined;
    return this.#events.filter((e) => e.seq > seq).map((e) => e.text);
  }
}

/** Per downstream session: its recent streams, found again by the id of one of their events. */
export class ReplayLog {
  readonly #limits: ReplayLimits;
  readonly #streams = new Map<string, ReplayStream>();
  #next = 0;

  readonly #budget: ReplayBudget | undefined;

  constructor(limits: ReplayLimits = defaultReplayLimits, budget?: ReplayBudget) {
    this.#limits = limits;
    this.#budget = budget;
  }

  get limits(): ReplayLimits {
    return this.#limits;
  }

  open(): ReplayStream {
    const id = String(++this.#next);
    const s = new ReplayStream(id, this.#limits, () => this.#streams.delete(id), this.#budget);
    this.#streams.set(s.id, s);
    if (this.#streams.size > this.#limits.maxStreams) {
      const oldest = [...this.#streams.values()].find((x) => x.finished) ?? this.#streams.values().next().value!;
      oldest.release();
    }
    return s;
  }

  /** The session ended: nothing is kept for it any more. */
  close(): void {
    for (const s of [...this.#streams.values()]) s.release();
  }

  /** The stream an event id belongs to and the seq to replay after; an error saying why when there is none. */
  find(lastEventId: string): { stream: ReplayStream; seq: number } | { error: string } {
    const m = /^([1-9][0-9]{0,15})\.(0|[1-9][0-9]{0,15})$/.exec(lastEventId);
    const stream = m ? this.#streams.get(m[1]!) : undefined;
    const budget = this.#budget ? `, ${this.#budget.maxBytes} bytes across all sessions` : '';
    const window = `the last ${this.#limits.maxEvents} events (at most ${this.#limits.maxBytes} bytes) of the session's last ${this.#limits.maxStreams} streams are kept${budget}`;
    if (!m) return { error: `Last-Event-ID ${JSON.stringify(lastEventId)} is not an event id of this server` };
    if (!stream) return { error: `Last-Event-ID ${JSON.stringify(lastEventId)}: that stream is no longer kept (${window})` };
    const seq = Number(m[2]);
    if (stream.after(seq) === undefined) return { error: `Last-Event-ID ${JSON.stringify(lastEventId)}: the events after it are no longer kept (${window})` };
    return { stream, seq };
  }
}
