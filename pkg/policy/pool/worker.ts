// One policy worker thread (pool.ts): holds loaded policies by key (engine id and load sequence)
// and evaluates entrypoints on them. It decides nothing on its own: a missing policy or an
// evaluation error is answered as an error, which the engine turns into a deny.
import { parentPort } from 'node:worker_threads';
import { instantiatePolicy, PolicyInstance } from '../engine/instance.ts';
import { policyInputBytes } from '../engine/policy-input.ts';
import type { EvalAnswer, EvalRequest, FromWorker, ToWorker } from './protocol.ts';

const port = parentPort;
if (!port) throw new Error('pkg/policy/pool/worker.ts runs only as a worker thread');
// An instance that saw an evaluation fail is replaced from the same module and data (instance.ts).
const policies = new Map<string, PolicyInstance>();
const send = (m: FromWorker) => port.postMessage(m);

port.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'load':
      void instantiatePolicy(m.module, m.data).then((policy) => {
        policies.set(m.key, new PolicyInstance(policy, m.module, m.data));
        send({ t: 'loaded', key: m.key });
      }, (err: unknown) => send({ t: 'loadFailed', key: m.key, message: err instanceof Error ? err.message : String(err) }));
      return;
    case 'drop':
      policies.delete(m.key);
      return;
    case 'evals':
      send({ t: 'results', items: m.items.map(evaluate) });
  }
});

function evaluate(m: EvalRequest): EvalAnswer {
  const policy = policies.get(m.key);
  if (!policy) return { id: m.id, error: `policy ${m.key} is not loaded in this worker` };
  try {
    const resultSet = policy.evaluate(policyInputBytes(m.input), m.entrypoint) as Array<{ result?: unknown }> | undefined;
    return { id: m.id, result: resultSet?.[0]?.result };
  } catch (err) {
    return { id: m.id, error: err instanceof Error ? err.message : String(err) };
  }
}
