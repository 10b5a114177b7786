// Structured JSON logs (pino). One root logger per process; components take children.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(component: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { component },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // Credentials must never reach a log line, whatever object is logged.
    redact: { paths: ['*.token', '*.password', '*.authorization', '*.headers.authorization', '*.credentials', 'token', 'authorization'], censor: '[REDACTED]' },
    // Asynchronous stdout: lines written while a write is in flight go out together, instead
    // of one write(2) per line on the request path (9 % of an ext_authz Check's CPU, profiled).
    // pino flushes synchronously on exit, so only a SIGKILL can lose the last lines; the
    // evidence is the audit trail, which has its own durability, not the logs.
  }, pino.destination({ dest: 1, sync: false }));
}

/** The message of an unknown thrown value, without its stack. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : JSON.stringify(err);
}
