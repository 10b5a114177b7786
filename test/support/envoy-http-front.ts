// What Envoy's HTTP filter chain does for one MCP route with the ext_authz filter in front of the
// router, as a loopback HTTP server for tests that drive a real MCP client through the ext_authz
// front end: every request is described to the real gRPC Check (pseudo-headers, lower-case
// headers, the whole body, the route's context extension naming the server); a denial is sent
// to the client as the CheckResponse says (status, headers, body); an OK forwards the client's
// request — its original bytes — to the upstream with the headers the response sets and without
// those it removes, and streams the upstream's answer back.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { loadSync } from '@grpc/proto-loader';
import type { CheckRequest } from '../../authorizer/src/extauthz/request.ts';
import { serverContextKey } from '../../authorizer/src/extauthz/request.ts';
import type { CheckResponse } from '../../authorizer/src/extauthz/response.ts';
import { protoLoaderOptions } from '../../authorizer/src/extauthz/protos.ts';
import { authorizationClient, checkOnce } from './extauthz.ts';

export interface EnvoyHttpFront {
  url: string;
  /** The CheckResponses of every request, in order. */
  checks: CheckResponse[];
  close(): Promise<void>;
}

// The gRPC client reads enums as names ("OK", "Forbidden"); Envoy sends their numbers.
const statusNumbers: Map<string, number> = (() => {
  const def = loadSync('envoy/type/v3/http_status.proto', protoLoaderOptions)['envoy.type.v3.StatusCode'] as unknown as { type: { value: Array<{ name: string; number: number }> } };
  return new Map(def.type.value.map((v) => [v.name, v.number]));
})();
const httpStatus = (code: unknown): number => (typeof code === 'number' ? code : statusNumbers.get(String(code)) ?? 403);

const hopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host', 'content-length']);

export async function startEnvoyHttpFront(o: { extAuthzPort: number; upstreamUrl: string; server: string }): Promise<EnvoyHttpFront> {
  const grpc = authorizationClient(o.extAuthzPort);
  const checks: CheckResponse[] = [];

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const headers: Record<string, string> = { ':method': req.method ?? 'GET', ':path': req.url ?? '/', ':authority': req.headers.host ?? 'localhost', ':scheme': 'http' };
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
    const check: CheckRequest = {
      attributes: {
        request: { http: { id: String(checks.length + 1), method: req.method ?? 'GET', path: req.url ?? '/', host: headers[':authority'], scheme: 'http', protocol: 'HTTP/1.1', headers, size: String(body.length), body: body.toString('utf8') } },
        context_extensions: { [serverContextKey]: o.server },
      },
    } as CheckRequest;
    const answer = await checkOnce(grpc, check);
    checks.push(answer);
    if (answer.status.code !== 0 || !answer.ok_response) {
      const denied = answer.denied_response;
      const status = httpStatus(denied?.status?.code);
      for (const h of denied?.headers ?? []) res.setHeader(h.header.key, h.header.value);
      res.writeHead(status >= 200 ? status : 403);
      res.end(denied?.body ?? '');
      return;
    }
    const forward = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !hopByHop.has(k)) forward.set(k, Array.isArray(v) ? v.join(',') : v);
    for (const k of answer.ok_response.headers_to_remove ?? []) forward.delete(k);
    for (const h of answer.ok_response.headers ?? []) forward.set(h.header.key, h.header.value);
    const up = await fetch(o.upstreamUrl, { method: req.method ?? 'GET', headers: forward, ...(body.length > 0 ? { body } : {}) });
    const out: Record<string, string> = {};
    up.headers.forEach((v, k) => { if (!hopByHop.has(k)) out[k] = v; });
    res.writeHead(up.status, out);
    if (up.body) Readable.fromWeb(up.body as never).pipe(res);
    else res.end();
  }

  const http = createServer((req, res) => {
    serve(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    checks,
    close: async () => {
      grpc.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
