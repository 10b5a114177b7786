// Closed-loop gRPC load: `concurrency` outstanding Check calls on one @grpc/grpc-js channel (one
// HTTP/2 connection, as Envoy keeps to its ext_authz cluster), each worker sending its next call
// as soon as the previous answer arrives. Requests are serialised once up front, so the client
// spends the same per call whatever the server does.
import { Client, credentials } from '@grpc/grpc-js';
import { loadProtos, type CheckRequest, type CheckResponse } from '../../authorizer/src/extauthz/index.ts';
import { loadSpan } from '../report.ts';
import { summarize, type Summary } from '../stats.ts';

export interface GrpcLoadOptions {
  concurrency: number;
  warmup: number;
  requests: number;
}

export interface GrpcLoadResult extends Summary {
  concurrency: number;
  /** Calls that failed at the gRPC level (not denials: a denial is a successful Check). */
  errors: number;
  /** Answers by outcome: "ok", or the denied HTTP status. */
  outcomes: Record<string, number>;
}

type CheckClient = Client & { Check(req: CheckRequest, cb: (err: Error | null, res?: CheckResponse) => void): void };

export function checkClient(port: number): CheckClient {
  const { AuthorizationClient } = loadProtos();
  return new AuthorizationClient(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as CheckClient;
}

export const checkCall = (client: CheckClient, req: CheckRequest) =>
  new Promise<CheckResponse>((resolve, reject) => client.Check(req, (err, res) => (err ? reject(err) : resolve(res!))));

export async function runGrpcLoad(port: number, requests: readonly CheckRequest[], opts: GrpcLoadOptions): Promise<GrpcLoadResult> {
  const method = loadProtos().authorization.Check!;
  const encoded = requests.map((r) => method.requestSerialize(r));
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  const call = (body: Buffer) => new Promise<CheckResponse>((resolve, reject) => {
    client.makeUnaryRequest(method.path, (b: Buffer) => b, method.responseDeserialize as (b: Buffer) => CheckResponse, body, (err, res) => (err ? reject(err) : resolve(res!)));
  });
  const outcomes: Record<string, number> = {};
  let errors = 0;
  const phase = async (n: number, latencies?: Float64Array) => {
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < n; i = next++) {
        const started = performance.now();
        try {
          const res = await call(encoded[i % encoded.length]!);
          if (latencies) {
            latencies[i] = performance.now() - started;
            const key = res.ok_response ? 'ok' : String(res.denied_response?.status.code ?? res.status.code);
            outcomes[key] = (outcomes[key] ?? 0) + 1;
          }
        } catch {
          if (latencies) errors++;
        }
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
  };
  try {
    await phase(opts.warmup);
    const latencies = new Float64Array(opts.requests);
    const span = loadSpan();
    const started = performance.now();
    await phase(opts.requests, latencies);
    const wallMs = performance.now() - started;
    return { ...summarize(latencies, wallMs), loadAverage: span.end(), concurrency: opts.concurrency, errors, outcomes };
  } finally {
    client.close();
  }
}
