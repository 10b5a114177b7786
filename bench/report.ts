// What every benchmark figure carries beside its numbers: the machine's load average when the
// figure started and when it ended. On a shared machine a figure measured while the load rose
// from 1 to 6 means something else than the same figure at a steady 1, and only the two ends
// together say which it was. Every bench script records its figures through here, so the
// printed output and build/bench/*.json say it the same way.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** 1-minute load averages (os.loadavg()[0]) at the start and the end of one figure or run. */
export interface LoadSpan {
  start: number;
  end: number;
}

export const loadNow = (): number => loadavg()[0]!;

/** Starts a span now; `end()` closes it (each call reads the load average afresh). */
export function loadSpan(): { start: number; end: () => LoadSpan } {
  const start = loadNow();
  return { start, end: () => ({ start, end: loadNow() }) };
}

/** Runs `fn` and returns its result with the load average at its start and end. */
export async function withLoad<T extends object>(fn: () => Promise<T>): Promise<T & { loadAverage: LoadSpan }> {
  const span = loadSpan();
  const result = await fn();
  return { ...result, loadAverage: span.end() };
}

/** "load 1.2→3.4" for printed rows and table cells. */
export const formatLoad = (l: LoadSpan): string => `load ${l.start.toFixed(1)}→${l.end.toFixed(1)}`;

/** The line every bench prints first: machine, node, and the load average it starts under. */
export function machineLine(): string {
  return `${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}), node ${process.version}, load ${loadNow().toFixed(1)}`;
}

const benchDir = fileURLToPath(new URL('../build/bench/', import.meta.url));

/**
 * Writes build/bench/<name>.json with the machine and the run's load span first, then `body`.
 * Returns the path written.
 */
export function writeBenchJson(name: string, run: LoadSpan, body: Record<string, unknown>): string {
  mkdirSync(benchDir, { recursive: true });
  const out = join(benchDir, `${name}.json`);
  const doc = { at: new Date().toISOString(), node: process.version, cpus: availableParallelism(), loadAverage: run, ...body };
  writeFileSync(out, `${JSON.stringify(doc, null, 2)}\n`);
  return out;
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ): 100 on every Linux build that matters. */
const userHz = 100;

/**
 * CPU time (user + system, ms) a process has used so far, from /proc/<pid>/stat; undefined when
 * it cannot be read (not Linux, process gone). CPU time per operation barely moves with the
 * machine's load, unlike operations per second, so it compares servers on a shared machine.
 */
export function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at state, field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / userHz;
  } catch {
    return undefined;
  }
}

/**
 * CPU time (ns) of every thread of a process so far (main, workers, V8's and libuv's), from
 * /proc/<pid>/task/<tid>/schedstat: unlike processCpuMs (10 ms ticks) fine enough to split a few
 * tens of milliseconds of work between interleaved blocks.
 */
export function processCpuNs(pid: number): number {
  let total = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // A thread that ended between the listing and the read: its time is in no later reading either.
    }
  }
  return total;
}
