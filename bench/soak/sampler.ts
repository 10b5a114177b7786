// Samples a process's resident memory and CPU from /proc, as a kubelet's cAdvisor would see the
// container: VmRSS from /proc/<pid>/status, utime+stime from /proc/<pid>/stat. Reading /proc
// costs the measured process nothing, so the figures are its own, not the sampler's.
import { readFileSync } from 'node:fs';

export interface Sample {
  /** Seconds since the sampler started. */
  t: number;
  rssMiB: number;
  /** CPU used since the previous sample, in cores (1 = one core busy the whole interval). */
  cpuCores: number;
  /** The 1-minute load average when the sample was taken. */
  load1: number;
}

const clockTicks = 100; // USER_HZ: Linux reports utime/stime in 1/100 s on every architecture Node supports.

/** VmRSS of /proc/<pid>/status text, in MiB; throws naming what is missing. */
export function parseRssMiB(status: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!m) throw new Error('no "VmRSS: <n> kB" line in /proc/<pid>/status (has the process exited?)');
  return Number(m[1]) / 1024;
}

/** utime + stime of /proc/<pid>/stat text, in seconds. The command name (field 2) may hold spaces and parentheses. */
export function parseCpuSeconds(stat: string): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`unparsable /proc/<pid>/stat: ${stat.slice(0, 120)}`);
  return (utime + stime) / clockTicks;
}

export interface Sampler {
  readonly samples: Sample[];
  stop(): Sample[];
}

/** Samples `pid` now and every `intervalMs`; `load` supplies the load average (os.loadavg by default). */
export function sampleProcess(pid: number, intervalMs: number, load: () => number): Sampler {
  const started = performance.now();
  const samples: Sample[] = [];
  let lastCpu = parseCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  let lastAt = started;
  const take = () => {
    const now = performance.now();
    const cpu = parseCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    const rssMiB = parseRssMiB(readFileSync(`/proc/${pid}/status`, 'utf8'));
    // The first sample has no interval: a clock tick (10 ms) landing between the two reads
    // above would otherwise read as dozens of cores over their few microseconds.
    const cpuCores = samples.length > 0 && now > lastAt ? (cpu - lastCpu) / ((now - lastAt) / 1000) : 0;
    samples.push({ t: (now - started) / 1000, rssMiB, cpuCores, load1: load() });
    lastCpu = cpu;
    lastAt = now;
  };
  take();
  const timer = setInterval(() => {
    try {
      take();
    } catch {
      // The process exited between samples; the caller sees it from the child's exit.
    }
  }, intervalMs);
  return {
    samples,
    stop() {
      clearInterval(timer);
      return samples;
    },
  };
}

export interface MemorySummary {
  samples: number;
  /** Seconds of the run treated as warm-up (excluded from min/max/drift). */
  warmupSeconds: number;
  rssAtStartMiB: number;
  rssAfterWarmupMiB: number;
  minAfterWarmupMiB: number;
  maxAfterWarmupMiB: number;
  peakMiB: number;
  rssAtEndMiB: number;
  /** (max − min) / min after warm-up, in percent: the "flat within 10 %" figure. */
  spreadPercent: number;
  /** (mean of the last quarter − mean of the first quarter) / first, after warm-up: the trend, in percent. */
  trendPercent: number;
  /** Least-squares slope of RSS after warm-up, MiB per minute (a leak shows as a steady positive slope). */
  slopeMiBPerMinute: number;
  meanCpuCores: number;
  peakCpuCores: number;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Summarises samples, treating those before `warmupSeconds` as warm-up; needs at least two samples after it. */
export function summarizeMemory(samples: readonly Sample[], warmupSeconds: number): MemorySummary {
  const after = samples.filter((s) => s.t >= warmupSeconds);
  if (samples.length === 0 || after.length < 2) throw new Error(`need at least two samples after the ${warmupSeconds} s warm-up, got ${after.length} of ${samples.length}`);
  const rss = after.map((s) => s.rssMiB);
  const min = Math.min(...rss);
  const max = Math.max(...rss);
  const quarter = Math.max(1, Math.floor(after.length / 4));
  const first = mean(rss.slice(0, quarter));
  const last = mean(rss.slice(-quarter));
  const ts = after.map((s) => s.t);
  const tMean = mean(ts);
  const rMean = mean(rss);
  const den = ts.reduce((a, t) => a + (t - tMean) ** 2, 0);
  const slope = den === 0 ? 0 : ts.reduce((a, t, i) => a + (t - tMean) * (rss[i]! - rMean), 0) / den;
  // The first sample's CPU covers no interval.
  const cpu = samples.slice(1).map((s) => s.cpuCores);
  return {
    samples: samples.length,
    warmupSeconds,
    rssAtStartMiB: samples[0]!.rssMiB,
    rssAfterWarmupMiB: rss[0]!,
    minAfterWarmupMiB: min,
    maxAfterWarmupMiB: max,
    peakMiB: Math.max(...samples.map((s) => s.rssMiB)),
    rssAtEndMiB: rss[rss.length - 1]!,
    spreadPercent: ((max - min) / min) * 100,
    trendPercent: ((last - first) / first) * 100,
    slopeMiBPerMinute: slope * 60,
    meanCpuCores: cpu.length ? mean(cpu) : 0,
    peakCpuCores: cpu.length ? Math.max(...cpu) : 0,
  };
}

/**
 * Resident MiB by kind of mapping: anonymous (V8's heap, wasm, malloc arenas), [heap] (brk
 * malloc), the node binary, other files; and wasmMemory, the part of anonymous that is
 * WebAssembly memory (the policy instances'): V8 maps a memory's accessible pages right before
 * a PROT_NONE guard reservation of several GiB, and nothing else in a Node process does that.
 */
export function rssByMapping(smaps: string): Record<'anonymous' | 'brkHeap' | 'nodeBinary' | 'otherFiles' | 'wasmMemory', number> {
  type Kind = 'anonymous' | 'brkHeap' | 'nodeBinary' | 'otherFiles';
  const maps: Array<{ start: number; end: number; perms: string; kind: Kind; rssMiB: number }> = [];
  for (const line of smaps.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const name = head[4]!;
      const kind: Kind = name === '' || name.startsWith('[anon') || name === '[stack]' ? 'anonymous' : name === '[heap]' ? 'brkHeap' : /\/node$/.test(name) ? 'nodeBinary' : 'otherFiles';
      maps.push({ start: Number.parseInt(head[1]!, 16), end: Number.parseInt(head[2]!, 16), perms: head[3]!, kind, rssMiB: 0 });
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB$/.exec(line);
    if (rss && maps.length) maps.at(-1)!.rssMiB += Number(rss[1]) / 1024;
  }
  const out = { anonymous: 0, brkHeap: 0, nodeBinary: 0, otherFiles: 0, wasmMemory: 0 };
  maps.forEach((m, i) => {
    out[m.kind] += m.rssMiB;
    const next = maps[i + 1];
    const guarded = next !== undefined && next.kind === 'anonymous' && next.perms.startsWith('---') && next.start === m.end && next.end - next.start >= 2 ** 32;
    if (m.kind === 'anonymous' && m.perms.startsWith('rw') && guarded) out.wasmMemory += m.rssMiB;
  });
  return out;
}

/** rssByMapping of a live process. */
export function processMappings(pid: number): ReturnType<typeof rssByMapping> {
  return rssByMapping(readFileSync(`/proc/${pid}/smaps`, 'utf8'));
}
