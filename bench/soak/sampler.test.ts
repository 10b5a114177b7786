import { describe, expect, it } from 'vitest';
import { parseCpuSeconds, parseRssMiB, processMappings, rssByMapping, sampleProcess, summarizeMemory, type Sample } from './sampler.ts';

const sample = (t: number, rssMiB: number, cpuCores = 0.5): Sample => ({ t, rssMiB, cpuCores, load1: 1 });

describe('/proc parsing', () => {
  it('reads VmRSS in MiB and refuses a status without it', () => {
    expect(parseRssMiB('Name:\tnode\nVmPeak:\t 999 kB\nVmRSS:\t  204800 kB\nRssAnon:\t 1 kB\n')).toBe(200);
    expect(() => parseRssMiB('Name:\tnode\nState:\tZ (zombie)\n')).toThrow(/no "VmRSS/);
  });

  it('reads utime+stime past a command name holding spaces and parentheses', () => {
    // fields: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime …
    const stat = '4242 (node (worker) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 11 0 123 456 789';
    expect(parseCpuSeconds(stat)).toBe(3);
    expect(() => parseCpuSeconds('4242 (node) S 1')).toThrow(/unparsable/);
  });

  it('sums resident memory by kind of mapping', () => {
    const smaps = [
      '00400000-04000000 r-xp 00000000 08:01 123 /opt/node/bin/node', 'Size: 60000 kB', 'Rss:  51200 kB',
      '05000000-06000000 rw-p 00000000 00:00 0 [heap]', 'Rss:  10240 kB',
      '7f0000000000-7f0010000000 rw-p 00000000 00:00 0 ', 'Rss: 102400 kB', 'Pss: 102400 kB',
      '7f0020000000-7f0020001000 r--p 00000000 08:01 9 /usr/lib/libc.so.6', 'Rss:   1024 kB',
      '7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]', 'Rss:   1024 kB',
    ].join('\n');
    expect(rssByMapping(smaps)).toEqual({ anonymous: 101, brkHeap: 10, nodeBinary: 50, otherFiles: 1, wasmMemory: 0 });
  });

  it('counts the accessible pages before a guard reservation of GiBs as WebAssembly memory', () => {
    const smaps = [
      '7f0b30000000-7f0b312c0000 rw-p 00000000 00:00 0 ', 'Rss: 19200 kB',
      '7f0b312c0000-7f0d2f000000 ---p 00000000 00:00 0 ', 'Rss: 0 kB',
      '7f0e00000000-7f0e01000000 rw-p 00000000 00:00 0 ', 'Rss: 4096 kB',
    ].join('\n');
    expect(rssByMapping(smaps)).toMatchObject({ anonymous: 22.75, wasmMemory: 18.75 });
  });

  it('finds this process\'s own WebAssembly memory', () => {
    // The project's TypeScript libs carry no WebAssembly types; Node has it all the same.
    const wasm = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } } }).WebAssembly;
    const memory = new wasm.Memory({ initial: 160 });
    new Uint8Array(memory.buffer).fill(1);
    expect(processMappings(process.pid).wasmMemory).toBeGreaterThanOrEqual(10);
  });

  it('samples this process: RSS positive, CPU from the second sample on', async () => {
    const s = sampleProcess(process.pid, 20, () => 0.5);
    const end = performance.now() + 80;
    while (performance.now() < end) Math.sqrt(Math.random()); // keep a core busy between samples
    await new Promise((r) => setTimeout(r, 30));
    const samples = s.stop();
    expect(samples.length).toBeGreaterThanOrEqual(2);
    expect(samples[0]!.rssMiB).toBeGreaterThan(1);
    expect(samples[0]!.cpuCores).toBe(0);
    expect(samples.every((x) => x.load1 === 0.5)).toBe(true);
    expect(samples.slice(1).some((x) => x.cpuCores > 0)).toBe(true);
  });
});

describe('summarizeMemory', () => {
  it('leaves warm-up out of min/max/spread and keeps it in the peak', () => {
    const s = summarizeMemory([sample(0, 100), sample(10, 250), sample(20, 150), sample(30, 160), sample(40, 155), sample(50, 165)], 20);
    expect(s).toMatchObject({ samples: 6, rssAtStartMiB: 100, rssAfterWarmupMiB: 150, minAfterWarmupMiB: 150, maxAfterWarmupMiB: 165, peakMiB: 250, rssAtEndMiB: 165 });
    expect(s.spreadPercent).toBeCloseTo(10, 5);
    expect(s.trendPercent).toBeCloseTo(10, 5); // last quarter (165) vs first quarter (150)
  });

  it('shows a steady leak as a positive slope and a sawtooth as none', () => {
    const leak = summarizeMemory(Array.from({ length: 13 }, (_, i) => sample(i * 10, 100 + i)), 0);
    expect(leak.slopeMiBPerMinute).toBeCloseTo(6, 5);
    const saw = summarizeMemory(Array.from({ length: 13 }, (_, i) => sample(i * 10, i % 2 ? 120 : 100)), 0);
    expect(Math.abs(saw.slopeMiBPerMinute)).toBeLessThan(1);
    expect(saw.spreadPercent).toBeCloseTo(20, 5);
  });

  it('averages CPU over the samples that cover an interval', () => {
    const s = summarizeMemory([sample(0, 100, 0), sample(10, 100, 0.5), sample(20, 100, 1.5)], 0);
    expect(s.meanCpuCores).toBe(1);
    expect(s.peakCpuCores).toBe(1.5);
  });

  it('refuses to summarise fewer than two samples after warm-up, saying so', () => {
    expect(() => summarizeMemory([sample(0, 1), sample(10, 1)], 10)).toThrow('need at least two samples after the 10 s warm-up, got 1 of 2');
  });
});
