// The replay window of the proxy's own streams, and the initialize result of an aggregating endpoint.
import { describe, expect, it } from 'vitest';
import { aggregateInitializeResult, mergeCapabilities } from './identity.ts';
import { ReplayLog } from './replay.ts';

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
