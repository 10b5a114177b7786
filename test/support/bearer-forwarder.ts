// Stands for the agent's credential sidecar: clients that cannot send an Authorization header
// (the conformance CLI, for one) talk to this loopback listener, which adds the agent's bearer
// token and relays everything else untouched to toolgate — method, path, every header including
// Host and Origin (so toolgate's own DNS-rebinding checks see what the client sent), the body as
// it streams in, and the response (status, headers, SSE events) as it streams back. It holds no
// state: a dropped client connection drops the upstream one, so toolgate sees the disconnect.
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BearerForwarder {
  /** The forwarder's own origin, http://127.0.0.1:<port>. */
  origin: string;
  /** Where requests go; set once the target listens, so the target can be configured with our origin first. */
  target: URL | undefined;
  close(): Promise<void>;
}

export async function startBearerForwarder(token: () => Promise<string> | string): Promise<BearerForwarder> {
  const forwarder: BearerForwarder = { origin: '', target: undefined, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    const target = forwarder.target;
    if (!target) return void res.writeHead(503, { 'content-type': 'text/plain' }).end('forwarder has no target yet');
    void Promise.resolve(token()).then((bearer) => {
      // A client's own Authorization is replaced, never merged: the sidecar speaks for the agent.
      const headers = { ...req.headers, authorization: `Bearer ${bearer}` };
      const up = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.statusMessage, r.rawHeaders);
        res.flushHeaders();
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      res.on('close', () => {
        if (!res.writableFinished) up.destroy();
      });
      req.pipe(up);
    }, () => res.writeHead(500, { 'content-type': 'text/plain' }).end('no token'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  forwarder.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  forwarder.close = () => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
  return forwarder;
}
