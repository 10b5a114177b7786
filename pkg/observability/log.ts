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
  });
}

/** The message of an unknown thrown value, without its stack. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : JSON.stringify(err);
}
