// What the operator's and the authorizer's main.ts share: configuration read from the
// environment, where every error names the variable at fault and what it expects, and a
// graceful stop on SIGINT/SIGTERM.
import { readFileSync } from 'node:fs';
import { createLogger, errorMessage, type Logger } from '../observability/log.ts';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function required(name: string, what: string): string {
  const v = process.env[name]?.trim();
  if (!v) throw new ConfigError(`${name} is not set: expected ${what}`);
  return v;
}

export function optional(name: string): string | undefined {
  return process.env[name]?.trim() || undefined;
}

/** A port number; "off" or "disabled" turns the listener off (undefined). */
export function port(name: string, fallback: number | undefined): number | undefined {
  const raw = optional(name);
  if (raw === undefined) return fallback;
  if (raw === 'off' || raw === 'disabled') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new ConfigError(`${name} must be a port number 1-65535 (or "off"), got "${raw}"`);
  return n;
}

export function int(name: string, fallback: number): number {
  const raw = optional(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

/** A comma-separated list; [] when unset. */
export function list(name: string): string[] {
  return (optional(name) ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

export function bool(name: string, fallback: boolean): boolean {
  const raw = optional(name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (['true', '1', 'yes'].includes(raw)) return true;
  if (['false', '0', 'no'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

/** The bytes of the file the variable names (or `fallback`); undefined when neither is set. */
export function fileBytes(name: string, fallback?: string): Buffer | undefined {
  const path = optional(name) ?? fallback;
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`${name}: cannot read ${path}: ${errorMessage(err)}`, { cause: err });
  }
}

export function file(name: string, fallback?: string): string | undefined {
  return fileBytes(name, fallback)?.toString('utf8');
}

/** Stops `running` once on the first SIGINT or SIGTERM, then exits (1 if the stop failed). */
export function stopOnSignals(running: { stop(): Promise<void> }, log: Logger): void {
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    running.stop().then(() => process.exit(0), (err: unknown) => {
      log.error({ err: errorMessage(err) }, 'unclean shutdown');
      process.exit(1);
    });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

/**
 * The body of a binary's main: start it with a logger named after it, stop on SIGINT/SIGTERM,
 * and on a start failure log why (a configuration error, or a failed start) and exit 1.
 */
export async function runUntilSignalled(component: string, start: (log: Logger) => Promise<{ stop(): Promise<void> }>): Promise<void> {
  const log = createLogger(component);
  try {
    stopOnSignals(await start(log), log);
  } catch (err) {
    log.fatal({ err: errorMessage(err) }, err instanceof ConfigError ? `${component} configuration is invalid` : `${component} failed to start`);
    process.exit(1);
  }
}
