// The replay window of the proxy's own streams, and the initialize result of an aggregating endpoint.
import { describe, expect, it } from 'vitest';
import { aggregateInitializeResult, mergeCapabilities } from './identity.ts';
import { ReplayBudget, ReplayLog, type ReplayStream } from './replay.ts';

const ids = (texts: readonly string[] | undefined) => texts?.map((t) => /^id: (\S+)/.exec(t)![1]);

describe('ReplayLog', () => {
  it('numbers events per stream and replays those after a given id', () => {
    const log = new ReplayLog({ maxEvents: 10, maxBytes: 1 << 20, maxStreams: 4 });
    const a = log.open();
    const b = log.open();
    const a1 = a.record('{"n":1}');
    a.record('{"n":2}');
    b.record('{"m":1}');
    expect(a1).toBe(`id: ${a.id}.1\nevent: message\ndata: {"n":1}\n\n`);
    const found = log.find(`${a.id}.1`);
    expect('stream' in found && found.stream).toBe(a);
    expect(ids(a.after(1))).toEqual([`${a.id}.2`]);
    // The priming event's id replays everything.
    const fromPriming = log.find(a.primingId);
    expect('seq' in fromPriming && ids(fromPriming.stream.after(fromPriming.seq))).toEqual([`${a.id}.1`, `${a.id}.2`]);
    expect(ids(b.after(0))).toEqual([`${b.id}.1`]);
  });

  it('refuses ids that are malformed, of an evicted stream, from the future or before the window, saying which', () => {
    const log = new ReplayLog({ maxEvents: 2, maxBytes: 1 << 20, maxStreams: 2 });
    const s = log.open();
    for (let i = 1; i <= 5; i++) s.record(`{"n":${i}}`);
    expect(ids(s.after(3))).toEqual([`${s.id}.4`, `${s.id}.5`]);
    expect(log.find(`${s.id}.2`)).toEqual({ error: expect.stringContaining('the events after it are no longer kept') });
    expect(log.find(`${s.id}.9`)).toEqual({ error: expect.stringContaining('no longer kept') });
    expect(log.find('x')).toEqual({ error: expect.stringContaining('is not an event id of this server') });
    expect(log.find(`${s.id}.01`)).toEqual({ error: expect.stringContaining('is not an event id') });
    s.finished = true;
    log.open();
    log.open();
    expect(log.find(`${s.id}.5`)).toEqual({ error: expect.stringContaining('that stream is no longer kept') });
  });

  it('bounds a stream by bytes: an event larger than the window is not kept', () => {
    const log = new ReplayLog({ maxEvents: 100, maxBytes: 200, maxStreams: 2 });
    const s = log.open();
    s.record('{"small":1}');
    s.record(JSON.stringify({ big: 'x'.repeat(500) }));
    expect(s.after(2)).toEqual([]);
    expect(s.after(1)).toBeUndefined();
    s.record('{"small":2}');
    expect(ids(s.after(2))).toEqual([`${s.id}.3`]);
  });

  it('forgets a released stream (its client had every event)', () => {
    const log = new ReplayLog();
    const s = log.open();
    s.record('{"n":1}');
    s.release();
    expect(log.find(`${s.id}.0`)).toEqual({ error: expect.stringContaining('that stream is no longer kept') });
  });

  it('writes each line of multi-line data as its own data field', () => {
    const s = new ReplayLog().open();
    expect(s.record('a\nb')).toBe(`id: ${s.id}.1\nevent: message\ndata: a\ndata: b\n\n`);
  });
});

describe('ReplayBudget', () => {
  const limits = { maxEvents: 1000, maxBytes: 1 << 20, maxStreams: 8 };
  const event = (n: number) => JSON.stringify({ n, pad: 'x'.repeat(100) });

  it('keeps what every session holds under one budget, emptying the least recently recording stream first', () => {
    const budget = new ReplayBudget(1000);
    const [a, b] = [new ReplayLog(limits, budget), new ReplayLog(limits, budget)];
    const sa = a.open();
    const sb = b.open();
    for (let i = 1; i <= 3; i++) sa.record(event(i));
    for (let i = 1; i <= 3; i++) sb.record(event(i));
    expect(budget.bytes).toBe(sa.bytes + sb.bytes);
    expect(budget.bytes).toBeLessThanOrEqual(1000);
    // sb records on: sa, which recorded least recently, is emptied to make room.
    for (let i = 4; i <= 5; i++) sb.record(event(i));
    expect(sa.bytes).toBe(0);
    expect(budget.streamsShed).toBe(1);
    expect(budget.bytes).toBe(sb.bytes);
    expect(a.find(`${sa.id}.1`)).toEqual({ error: expect.stringContaining('the events after it are no longer kept (the last 1000 events (at most 1048576 bytes) of the session\'s last 8 streams are kept, 1000 bytes across all sessions)') });
    expect(ids(sb.after(3))).toEqual([`${sb.id}.4`, `${sb.id}.5`]);
  });

  it('lets one stream alone over the budget keep only its newest events that fit', () => {
    const budget = new ReplayBudget(500);
    const s = new ReplayLog(limits, budget).open();
    for (let i = 1; i <= 10; i++) s.record(event(i));
    expect(s.bytes).toBeLessThanOrEqual(500);
    expect(budget.bytes).toBe(s.bytes);
    expect(ids(s.after(9))).toEqual([`${s.id}.10`]);
    expect(s.after(1)).toBeUndefined();
  });

  it('gives back what a session kept when it ends, and what a released or evicted stream kept', () => {
    const budget = new ReplayBudget(1 << 20);
    const log = new ReplayLog({ ...limits, maxStreams: 2 }, budget);
    const streams = [log.open(), log.open()];
    for (const s of streams) s.record(event(1));
    streams[0]!.finished = true;
    log.open().record(event(1));
    expect(budget.bytes).toBe(streams[1]!.bytes * 2);
    log.close();
    expect(budget.bytes).toBe(0);
  });

  it('stays exact and within bounds over a generated run of 20 000 operations on 30 sessions', () => {
    let seed = 15;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    const budget = new ReplayBudget(64 * 1024);
    const logs = Array.from({ length: 30 }, () => new ReplayLog({ maxEvents: 50, maxBytes: 8 * 1024, maxStreams: 4 }, budget));
    const open = new Map<ReplayLog, ReplayStream[]>(logs.map((l) => [l, []]));
    for (let op = 0; op < 20_000; op++) {
      const log = logs[rand(logs.length)]!;
      const streams = open.get(log)!;
      const what = rand(100);
      if (what < 10 || streams.length === 0) streams.push(log.open());
      else if (what < 85) streams[rand(streams.length)]!.record(JSON.stringify({ op, pad: 'y'.repeat(rand(3000)) }));
      else if (what < 95) streams.splice(rand(streams.length), 1)[0]!.release();
      else {
        log.close();
        streams.length = 0;
      }
      expect(budget.bytes).toBeLessThanOrEqual(64 * 1024);
      const kept = [...open.values()].flat().reduce((n, s) => n + s.bytes, 0);
      // Streams evicted from a log (maxStreams) are released, so the open ones hold every kept byte.
      expect(budget.bytes).toBe(kept);
    }
  });
});

describe('aggregated initialize result', () => {
  const servers = [
    { server: 'a', result: { capabilities: { tools: {}, resources: { subscribe: true }, logging: {}, tasks: { list: {} }, experimental: { x: {} } }, instructions: 'Use A for maps.' } },
    { server: 'b', result: { capabilities: { tools: { listChanged: true }, resources: { listChanged: true }, prompts: {} } } },
    { server: 'down', result: undefined },
  ];

  it('claims a capability only when some server has it and the proxy routes it, each flag when some server sets it', () => {
    expect(mergeCapabilities(servers)).toEqual({
      tools: { listChanged: true }, resources: { subscribe: true, listChanged: true }, logging: {}, prompts: {},
    });
    expect(mergeCapabilities([])).toEqual({ tools: { listChanged: true } });
  });

  it('is toolgate, with the servers\' instructions headed by the server they come from', () => {
    const r = aggregateInitializeResult('2025-06-18', { name: 'toolgate', version: '1' }, servers);
    expect(r).toMatchObject({ protocolVersion: '2025-06-18', serverInfo: { name: 'toolgate', version: '1' } });
    expect(r.instructions).toBe('## Server "a"\n\nUse A for maps.');
    expect(aggregateInitializeResult('2025-06-18', { name: 't', version: '1' }, servers.slice(1))).not.toHaveProperty('instructions');
  });
});
