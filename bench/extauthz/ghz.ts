// ghz (github.com/bojand/ghz, built from its Go module like the other tools): an independent
// gRPC load generator users know, driving the same Check calls as grpc-load.ts from the same
// official Envoy protos (those @grpc/grpc-js-xds ships, which the server loads too). Unary data
// given as a JSON array is sent round-robin by request number, one connection, `concurrency`
// workers; a separate warm-up run comes first, so ghz's own numbers cover measured calls only.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../pkg/policy/engine/policy-wasm.ts';
import type { CheckRequest } from '../../authorizer/src/extauthz/index.ts';
import { loadSpan } from '../report.ts';
import type { GrpcLoadOptions, GrpcLoadResult } from './grpc-load.ts';

const run = promisify(execFile);
const depsDir = join(dirname(createRequire(import.meta.url).resolve('@grpc/grpc-js-xds/package.json')), 'deps');
const importPaths = ['envoy-api', 'googleapis', 'xds', 'protoc-gen-validate'].map((d) => join(depsDir, d));

export const ghzBinary = () => join(process.env.TOOLGATE_BIN_DIR ?? join(repoRoot, 'build', 'bin'), 'ghz');

/** The fields of ghz's JSON report this bench reads (durations in nanoseconds). */
interface GhzReport {
  count: number;
  total: number;
  rps: number;
  latencyDistribution: Array<{ percentage: number; latency: number }> | null;
  statusCodeDistribution: Record<string, number>;
  errorDistribution: Record<string, number> | null;
}

export interface GhzOptions extends GrpcLoadOptions {
  /** Prefix of ghz's command line, e.g. ['taskset', '-c', '1']. */
  wrap?: readonly string[];
  /** GOMAXPROCS for ghz (its --cpus); default all. */
  cpus?: number;
}

export async function runGhz(port: number, requests: readonly CheckRequest[], opts: GhzOptions): Promise<GrpcLoadResult> {
  // protojson takes the .proto field names (snake_case) as the messages are built here; bytes
  // fields would need base64, which the workload never uses (bodies travel as text).
  if (requests.some((r) => r.attributes?.request?.http?.raw_body !== undefined)) throw new Error('ghz: raw_body requests are not supported by this driver');
  const dir = mkdtempSync(join(tmpdir(), 'toolgate-ghz-'));
  const dataFile = join(dir, 'data.json');
  writeFileSync(dataFile, JSON.stringify(requests));
  const ghz = async (total: number): Promise<GhzReport> => {
    const args = [
      '--insecure', '--proto', join(depsDir, 'envoy-api', 'envoy', 'service', 'auth', 'v3', 'external_auth.proto'),
      '--import-paths', importPaths.join(','), '--call', 'envoy.service.auth.v3.Authorization.Check',
      '--data-file', dataFile, '--concurrency', String(opts.concurrency), '--connections', '1', '--total', String(total),
      ...(opts.cpus ? ['--cpus', String(opts.cpus)] : []), '--format', 'json', `127.0.0.1:${port}`,
    ];
    const [cmd, ...rest] = [...(opts.wrap ?? []), ghzBinary(), ...args];
    const { stdout } = await run(cmd!, rest, { maxBuffer: 512 * 1024 * 1024 }).catch((err: { stderr?: string; message: string }) => {
      throw new Error(`ghz failed: ${(err.stderr || err.message).trim().slice(0, 2000)}`);
    });
    return JSON.parse(stdout) as GhzReport;
  };
  try {
    if (opts.warmup > 0) await ghz(Math.max(opts.warmup, opts.concurrency));
    const span = loadSpan();
    const r = await ghz(opts.requests);
    const loadAverage = span.end();
    const at = (p: number) => (r.latencyDistribution?.find((d) => d.percentage === p)?.latency ?? Number.NaN) / 1e6;
    const errors = Object.values(r.errorDistribution ?? {}).reduce((a, b) => a + b, 0);
    return {
      count: r.count, p50Ms: at(50), p99Ms: at(99), perSecond: r.rps, loadAverage,
      concurrency: opts.concurrency, errors, outcomes: r.statusCodeDistribution,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
