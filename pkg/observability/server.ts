// /healthz (the process is alive), /readyz (its readiness checks pass) and /metrics on one port.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export type ReadinessCheck = () => { ok: boolean; detail: string };

export interface ProbeServer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

export async function startProbeServer(opts: { port: number; host?: string; registry: Registry; readiness: Record<string, ReadinessCheck> }): Promise<ProbeServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz' || path === '/livez') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (path === '/readyz') {
      const results = Object.entries(opts.readiness).map(([name, check]) => ({ name, ...check() }));
      const ok = results.every((r) => r.ok);
      const body = results.map((r) => `[${r.ok ? '+' : '-'}]${r.name} ${r.detail}`).join('\n');
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(`${body}\n${ok ? 'ok' : 'not ready'}\n`);
      return;
    }
    if (path === '/metrics') {
      opts.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
