// The business-automation MCP server (test/fixtures/business-automation) as a pod of `make
// demo-cluster`: the fixture's files and this one come in a ConfigMap and run on the toolgate
// image's Node and SDK. MCP on :8080/mcp for every address (the Service's), the agent issuer's
// JWKS and a health check on :8081, and one log line per tools/call that reached the server, so
// `kubectl logs` shows what got past toolgate.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBusinessAutomationServer } from '../../test/fixtures/business-automation/server.ts';

const jwks = readFileSync(join(import.meta.dirname, '../../jwks.json'), 'utf8');
const server = await startBusinessAutomationServer({ port: 8080, host: '0.0.0.0' });
let logged = 0;
setInterval(() => {
  for (const call of server.calls.slice(logged)) console.log(JSON.stringify({ msg: 'tools/call reached the server', tool: call.name }));
  logged = server.calls.length;
}, 200);
createServer((req, res) => {
  if (req.url === '/jwks') return void res.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
  if (req.url === '/healthz') return void res.writeHead(200).end('ok');
  res.writeHead(404).end();
}).listen(8081, '0.0.0.0');
console.log(JSON.stringify({ msg: 'business-automation MCP server listening', mcp: 8080, jwks: 8081, contacts: server.world.contacts.length }));
