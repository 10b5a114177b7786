// A process that loads a bundle into a pool and decides (on a worker), then has nothing left to do: it
// must neither exit before the workers answer nor stay alive because of idle workers (pool.test.ts).
import { readFileSync } from 'node:fs';
import { PolicyEngine } from '../../engine/engine.ts';
import { ensurePolicyWasm } from '../../engine/policy-wasm.ts';
import { compileVariant } from '../../engine/testdata/cases.ts';
import { PolicyWorkerPool } from '../pool.ts';

const engine = new PolicyEngine({ pool: new PolicyWorkerPool({ size: 2 }) });
await engine.load(readFileSync(ensurePolicyWasm()), compileVariant('base'), 'rev-start');
const input = { server: 'gmail', tool: 'read_email', arguments: {}, caller: { agent: 'agent-1', operator: 'alice', roles: [], scopes: [] } };
// Two asked in one tick, so they go to a worker (a lone one is answered on this thread).
const [{ decision, revision }] = await Promise.all([engine.evaluateDecision(input), engine.evaluateDecision(input)]);
process.stdout.write(`${JSON.stringify({ action: decision.action, revision })}\n`);
