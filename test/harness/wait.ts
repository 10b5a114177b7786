// Polling until a condition holds, for tests and the demo (no vitest import, so scripts can use it).
import { setTimeout as sleep } from 'node:timers/promises';

/** Polls until `predicate` returns a truthy value (returned) and fails, saying what it waited for, on timeout. */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  opts: { description: string; timeoutMs?: number; intervalMs?: number },
): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  let last: string;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
      last = `predicate returned ${JSON.stringify(value)}`;
    } catch (err) {
      last = `predicate threw: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.description} (last: ${last})`);
    await sleep(opts.intervalMs ?? 100);
  }
}
