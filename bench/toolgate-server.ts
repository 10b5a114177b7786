// toolgate's evaluator behind a minimal HTTP endpoint shaped like OPA's Data API, so the
// benchmark can put both behind the same load generator: POST /v1/data/toolgate/decision with
// {"input": ...} answers {"result": <decision>}. It opens and verifies the same signed bundle
// OPA loads and evaluates it with the authorizer's PolicyEngine, in its own process like OPA.
//
// Usage: node bench/toolgate-server.ts <bundle.tar.gz> <public.pem> <key id>
// Prints {"port": N} on stdout once it serves.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { PolicyEngine } from '../pkg/policy/engine/index.ts';
import { openBundle } from '../operator/src/bundle/index.ts';

const [bundlePath, publicKeyPath, keyId] = process.argv.slice(2);
if (!bundlePath || !publicKeyPath || !keyId) {
  console.error('usage: toolgate-server.ts <bundle.tar.gz> <public.pem> <key id>');
  process.exit(2);
}

const bundle = await openBundle(readFileSync(bundlePath), {
  verify: { keys: { [keyId]: { key: readFileSync(publicKeyPath, 'utf8'), algorithm: 'ES256' } }, keyId },
});
if (!bundle.wasm) throw new Error(`${bundlePath} has no policy.wasm`);
const engine = new PolicyEngine();
await engine.load(bundle.wasm, bundle.data, bundle.manifest.revision);

const path = '/v1/data/toolgate/decision';
const server = createServer((req, res) => {
  const reply = (status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  if (req.method !== 'POST' || req.url?.split('?')[0] !== path) return reply(404, { code: 'not_found', message: `POST ${path} only` });
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let body: { input?: unknown };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { input?: unknown };
    } catch {
      return reply(400, { code: 'invalid_parameter', message: 'body is not JSON' });
    }
    // The engine denies anything that is not a well-formed input document itself (fail closed).
    reply(200, { result: engine.evaluate(body?.input as Parameters<PolicyEngine['evaluate']>[0]) });
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: (server.address() as { port: number }).port }));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
