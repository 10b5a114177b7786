// A small closed-loop HTTP load generator: `concurrency` workers, each sending its next request
// as soon as the previous answer is read, over keep-alive connections (one per worker). Used
// unchanged for OPA and for toolgate so both see the same client, bodies and order.
import { Agent, request } from 'node:http';
import { loadSpan } from './report.ts';
import { summarize, type Summary } from './stats.ts';

export interface LoadOptions {
  concurrency: number;
  /** Requests sent before measuring (connections opened, JITs and caches warm). */
  warmup: number;
  /** Measured requests. */
  requests: number;
}

export interface LoadResult extends Summary {
  concurrency: number;
  /** Measured requests not answered 200. */
  errors: number;
  /** Those by HTTP status, or by error message when the connection failed. */
  errorsBy: Record<string, number>;
  /** The first answer body per failing status (truncated), to say what went wrong. */
  errorBodies: Record<string, string>;
}

/** Resolves with the HTTP status (and the body when it is not 200), or the error message when no answer came. */
function post(agent: Agent, url: URL, body: Buffer): Promise<{ outcome: number | string; text?: string }> {
  return new Promise((resolve) => {
    const req = request(
      { agent, hostname: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        // Successful answers are drained unread so both targets cost the client the same.
        if (res.statusCode === 200) res.resume();
        else res.on('data', (c: Buffer) => chunks.push(c));
        res.once('end', () => resolve({ outcome: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8').slice(0, 300) }));
        res.once('error', (err) => resolve({ outcome: err.message }));
      },
    );
    req.once('error', (err) => resolve({ outcome: err.message }));
    req.end(body);
  });
}

export async function runLoad(target: string, bodies: readonly Buffer[], opts: LoadOptions): Promise<LoadResult> {
  const url = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const phase = async (n: number, latencies?: Float64Array) => {
    let next = 0;
    const errorsBy: Record<string, number> = {};
    const errorBodies: Record<string, string> = {};
    const worker = async () => {
      for (let i = next++; i < n; i = next++) {
        const started = performance.now();
        const { outcome, text } = await post(agent, url, bodies[i % bodies.length]!);
        if (latencies) latencies[i] = performance.now() - started;
        if (outcome !== 200) {
          errorsBy[outcome] = (errorsBy[outcome] ?? 0) + 1;
          errorBodies[outcome] ??= text ?? '';
        }
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
    return { errorsBy, errorBodies };
  };
  try {
    await phase(opts.warmup);
    const latencies = new Float64Array(opts.requests);
    const span = loadSpan();
    const started = performance.now();
    const { errorsBy, errorBodies } = await phase(opts.requests, latencies);
    const wallMs = performance.now() - started;
    const errors = Object.values(errorsBy).reduce((a, b) => a + b, 0);
    return { ...summarize(latencies, wallMs), loadAverage: span.end(), concurrency: opts.concurrency, errors, errorsBy, errorBodies };
  } finally {
    agent.destroy();
  }
}

/** One request whose answer is read (for checking decisions, not for timing). */
export async function postJson(target: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as unknown };
}
