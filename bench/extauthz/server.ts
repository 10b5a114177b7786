// One ext_authz server for the benchmark, in its own process so the load generator does not
// share its event loop. Modes: `empty` (the floor: same gRPC server, protos and serialisation,
// Check answers OK without authenticating or deciding), `decide` (the real Check with a fixed
// caller: parse + decision path + response), `jwt` (the real Check with JWT verification by the
// identity module against the issuer given in TOOLGATE_BENCH_ISSUER, a JSON Identity patch).
// Prints {"port":N} once serving.
import { pino } from 'pino';
import { okResponse, routerAuthenticator, startExtAuthzServer, type Authenticate } from '../../authorizer/src/extauthz/index.ts';
import { compileFixture, loadFixtureRouter } from '../../test/support/extauthz.ts';
import { DecisionPath } from '../../authorizer/src/gate/index.ts';
import { benchCaller } from './workload.ts';

const mode = process.argv[2];
if (mode !== 'empty' && mode !== 'decide' && mode !== 'jwt') throw new Error(`usage: server.ts empty|decide|jwt (got ${mode})`);
const log = pino({ level: 'warn' });
const identity = mode === 'jwt' ? (JSON.parse(process.env.TOOLGATE_BENCH_ISSUER ?? '{}') as Record<string, string>) : undefined;
const router = await loadFixtureRouter(compileFixture(identity));
const authenticate: Authenticate = mode === 'jwt' ? routerAuthenticator(router) : async () => benchCaller;
const server = await startExtAuthzServer({
  port: 0, host: '127.0.0.1', log, ready: () => true, authenticate, decisionPath: new DecisionPath({ router, log }),
  ...(mode === 'empty' ? { handler: async () => okResponse(undefined, undefined) } : {}),
});
process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
