// The worker pool against the real policy.wasm and the decision table's corpus: the same
// decisions as in-process, revisions never mixed under a swap, a lost worker refusing its calls.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompiledData } from '../compiler/index.ts';
import { PolicyEngine } from '../engine/engine.ts';
import { ensurePolicyWasm } from '../engine/policy-wasm.ts';
import { cases, compileVariant, variants } from '../engine/testdata/cases.ts';
import { RULES, type Decision, type PolicyInput } from '../engine/types.ts';
import { buildEchoWasm, holdsLoneSurrogate, hostileInput, prng } from '../engine/testdata/input-corpus.ts';
import { Registry } from 'prom-client';
import { registerPoolMetrics } from './metrics.ts';
import { PolicyWorkerPool } from './pool.ts';

let wasm: Buffer;
const data = new Map<string, CompiledData>();
const pools: PolicyWorkerPool[] = [];
const poolOf = (size: number) => {
  const p = new PolicyWorkerPool({ size });
  pools.push(p);
  return p;
};

beforeAll(() => {
  wasm = readFileSync(ensurePolicyWasm());
  for (const v of variants) data.set(v, compileVariant(v));
}, 120_000);
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

/** A pooled engine and an in-process one, both on the base policy as rev-1. */
async function pooledBeside(size: number) {
  const pool = poolOf(size);
  const engine = new PolicyEngine({ pool });
  await engine.load(wasm, data.get('base'), 'rev-1');
  const local = new PolicyEngine();
  await local.load(wasm, data.get('base'), 'rev-1');
  return { pool, engine, local };
}

/** Inputs no well-behaved front end sends, beside the corpus: what the gate might still pass on. */
const hostile: unknown[] = [
  undefined, null, {}, [], 'tools/call', 0, { server: 'gmail' }, { server: 'gmail', tool: 'send_email', arguments: null },
  { server: 'gmail', tool: 'send_email', arguments: { to: 'eve@evil.com', n: 10n }, caller: { roles: [], scopes: [] } },
  { server: 'gmail', tool: 'send_email', arguments: { to: 'bob@acme.com', missing: undefined, nan: Number.NaN, when: new Date(0) }, caller: { agent: 'a', operator: 'o', roles: [], scopes: [] } },
  { server: 'gmail', tool: 'read_email', caller: { agent: 'agent-1', operator: 'alice', roles: ['admin', 'admin'], scopes: [] }, extra: { deep: [[[[[[{}]]]]]] } },
];

describe('policy worker pool', () => {
  it('decides every case of the corpus (and hostile inputs) exactly as in-process, with 1 and 3 workers', async () => {
    const actions = new Set<string>();
    for (const size of [1, 3]) {
      const pool = poolOf(size);
      for (const v of variants) {
        const local = new PolicyEngine();
        const pooled = new PolicyEngine({ pool });
        await local.load(wasm, data.get(v), `rev-${v}`);
        await pooled.load(wasm, data.get(v), `rev-${v}`);
        const inputs = [...cases.filter((c) => (c.variant ?? 'base') === v).map((c) => c.input), ...hostile];
        const results = await Promise.all(inputs.map((input) => pooled.evaluateDecision(input as PolicyInput)));
        inputs.forEach((input, i) => {
          expect(results[i], `${v} #${i} (${size} workers)`).toEqual({ decision: local.evaluate(input as PolicyInput), revision: `rev-${v}` });
        });
        for (const r of results) actions.add(r.decision.action);
      }
    }
    expect(actions).toEqual(new Set(['allow', 'deny', 'require_approval']));
  }, 120_000);

  it('never mixes revisions while bundles are swapped under load: each answer is its revision\'s, none older than the one reported', async () => {
    const pool = poolOf(2);
    const engine = new PolicyEngine({ pool });
    const a = data.get('base')!;
    const b = data.get('defaultAllow')!;
    // Expected answers per revision, from in-process engines.
    const expected = new Map<string, PolicyEngine>();
    for (const [rev, d] of [['rev-a', a], ['rev-b', b]] as const) {
      const e = new PolicyEngine();
      await e.load(wasm, d, rev);
      expected.set(rev, e);
    }
    const inputs = cases.filter((c) => (c.variant ?? 'base') === 'base').map((c) => c.input as PolicyInput);
    // The two revisions must disagree somewhere, or the test could not see a mix.
    expect(inputs.some((i) => JSON.stringify(expected.get('rev-a')!.evaluate(i)) !== JSON.stringify(expected.get('rev-b')!.evaluate(i)))).toBe(true);
    await engine.load(wasm, a, 'rev-a');
    let loads = 0;
    const swapping = (async () => {
      for (let i = 0; i < 6; i++) {
        const rev = i % 2 === 0 ? 'rev-b' : 'rev-a';
        await engine.load(wasm, rev === 'rev-a' ? a : b, rev);
        loads++;
      }
    })();
    const answers: Array<{ input: PolicyInput; decision: Decision; revision: string; reportedAtAnswer: string | undefined }> = [];
    const asking = (async () => {
      let i = 0;
      while (loads < 6) {
        const batch = inputs.map((_, k) => inputs[(i + k) % inputs.length]!);
        i++;
        await Promise.all(batch.map(async (input) => {
          const r = await engine.evaluateDecision(input);
          answers.push({ input, ...r, reportedAtAnswer: engine.current?.revision });
        }));
      }
    })();
    await Promise.all([swapping, asking]);
    expect(answers.length).toBeGreaterThan(inputs.length);
    const revisions = new Set(answers.map((x) => x.revision));
    expect(revisions).toEqual(new Set(['rev-a', 'rev-b']));
    for (const x of answers) {
      expect(x.decision, `${x.revision}: ${JSON.stringify(x.input)}`).toEqual(expected.get(x.revision)!.evaluate(x.input));
      expect(x.revision).toBe(x.reportedAtAnswer);
    }
  }, 120_000);

  it('refuses the decisions in flight on a worker that dies, naming it, and replaces the worker', async () => {
    const { pool, engine, local } = await pooledBeside(1);
    const inputs = cases.filter((c) => (c.variant ?? 'base') === 'base').map((c) => c.input as PolicyInput);
    const batch = Array.from({ length: 400 }, (_, i) => inputs[i % inputs.length]!);
    const [victim] = pool.threadIds;
    const inFlight = batch.map((input) => engine.evaluateDecision(input));
    // The worker exits while it still has most of the batch to answer.
    await pool.terminateWorker(victim!);
    const answered = await Promise.all(inFlight);
    const lost = answered.filter((r) => r.decision.rule === RULES.evaluationError);
    expect(lost.length).toBeGreaterThan(0);
    for (const r of lost) {
      expect(r.decision.action).toBe('deny');
      expect(r.decision.reasons[0]).toMatch(new RegExp(`policy evaluation lost: policy worker ${victim} exited .*; the call is refused`));
    }
    // Answers that did arrive before the exit are the policy's own.
    answered.forEach((r, i) => {
      if (r.decision.rule !== RULES.evaluationError) expect(r.decision).toEqual(local.evaluate(batch[i]!));
    });
    expect(pool.replaced).toBe(1);
    expect(pool.threadIds).toHaveLength(1);
    expect(pool.threadIds[0]).not.toBe(victim);
    // The replacement loads the active policy before it takes work; meanwhile calls are decided in-process.
    await new Promise((r) => setTimeout(r, 500));
    const after = await Promise.all(inputs.map((input) => engine.evaluateDecision(input)));
    after.forEach((r, i) => expect(r).toEqual({ decision: local.evaluate(inputs[i]!), revision: 'rev-1' }));
  }, 120_000);

  it('keeps the process alive while workers owe an answer, and not once they are idle', () => {
    const script = fileURLToPath(new URL('./testdata/start-and-exit.ts', import.meta.url));
    const out = execFileSync(process.execPath, [script], { encoding: 'utf8', timeout: 60_000 });
    expect(JSON.parse(out)).toEqual({ action: 'allow', revision: 'rev-start' });
  }, 90_000);

  it('hands a worker exactly the input the in-process path reads: 3 000 generated hostile inputs, compared as the policy\'s own json.marshal of it', async () => {
    // The echo policy answers with json.marshal(input), so any difference in what the two paths
    // give the policy (prototypes lost in a clone: toJSON methods, Buffers; own "__proto__" keys;
    // numbers at the edge of precision; lone surrogates) is a difference in text.
    const echo = buildEchoWasm();
    const pool = poolOf(2);
    const local = new PolicyEngine();
    const pooled = new PolicyEngine({ pool });
    await local.load(echo, {}, 'echo');
    await pooled.load(echo, {}, 'echo');
    const rand = prng(15);
    const inputs = Array.from({ length: 3000 }, () => hostileInput(rand));
    const results = await Promise.all(inputs.map((input) => pooled.evaluateDecision(input as unknown as PolicyInput)));
    let echoed = 0;
    inputs.forEach((input, i) => {
      const here = local.evaluate(input as unknown as PolicyInput);
      expect(results[i]!.decision, `case ${i}: ${JSON.stringify(input)}`).toEqual(here);
      if (holdsLoneSurrogate(input)) {
        // Not Unicode text: refused before the wasm, by name, on both paths.
        expect(here.reasons[0], `case ${i}`).toMatch(/^policy evaluation failed: the input has no JSON form the policy can read: it holds a lone UTF-16 surrogate/);
        return;
      }
      expect(here.rule, `case ${i}: ${here.reasons[0]}`).toBe('echo');
      echoed++;
      // And what both read is what JSON says the input is.
      expect(JSON.parse(here.reasons[0]!), `case ${i}`).toEqual(JSON.parse(JSON.stringify(input)));
    });
    // Both kinds are well represented in the corpus.
    expect(echoed).toBeGreaterThan(1000);
    expect(inputs.length - echoed).toBeGreaterThan(500);
  }, 120_000);

  it('refuses an input JSON cannot represent (a BigInt), naming why, in-process and on a worker alike, leaving nothing waiting', async () => {
    const { engine, local } = await pooledBeside(1);
    const input = { server: 'gmail', tool: 'read_email', arguments: { n: 10n } } as unknown as PolicyInput;
    const r = await engine.evaluateDecision(input);
    expect(r.decision).toMatchObject({ action: 'deny', rule: RULES.evaluationError });
    expect(r.decision.reasons[0]).toMatch(/policy evaluation failed: the input has no JSON form the policy can read: .*BigInt/);
    expect(r.decision).toEqual(local.evaluate(input));
    // The engine still answers afterwards (nothing was left pending on the worker).
    const after = await engine.evaluateDecision({ server: 'gmail', tool: 'read_email' } as unknown as PolicyInput);
    expect(after.decision.rule).not.toBe(RULES.evaluationError);
  }, 60_000);

  it('posts the evaluations asked in one tick to a worker as one message, answers a lone one on the calling thread, and each its own', async () => {
    const { pool, engine, local } = await pooledBeside(1);
    const inputs = cases.filter((c) => (c.variant ?? 'base') === 'base').map((c) => c.input as PolicyInput);
    const before = pool.batches;
    const answers = await Promise.all(inputs.map((input) => engine.evaluateDecision(input)));
    expect(pool.batches - before).toBe(1);
    answers.forEach((r, i) => expect(r).toEqual({ decision: local.evaluate(inputs[i]!), revision: 'rev-1' }));
    // Asked alone, with no worker busy and this thread idle of late (the pause): answered on the
    // calling thread, no message at all.
    const locally = pool.localRuns;
    for (const input of inputs.slice(0, 2)) {
      await new Promise((r) => setTimeout(r, 120));
      expect(await engine.evaluateDecision(input)).toEqual({ decision: local.evaluate(input), revision: 'rev-1' });
    }
    expect(pool.batches - before).toBe(1);
    expect(pool.localRuns - locally).toBe(2);
    // This thread busy of late (a spin longer than the 50 ms window): a lone one still goes to a worker.
    await new Promise((r) => setTimeout(r, 60));
    const spinUntil = performance.now() + 120;
    while (performance.now() < spinUntil) { /* busy */ }
    expect(await engine.evaluateDecision(inputs[2]!)).toEqual({ decision: local.evaluate(inputs[2]!), revision: 'rev-1' });
    expect(pool.batches - before).toBe(2);
    expect(pool.localRuns - locally).toBe(2);
  }, 60_000);

  it("reports each worker's own heap on /metrics, which the process's heap figures leave out", async () => {
    const { pool } = await pooledBeside(2);
    const registry = new Registry();
    registerPoolMetrics(registry, pool);
    const text = await registry.metrics();
    for (const name of ['toolgate_policy_worker_heap_used_bytes', 'toolgate_policy_worker_heap_total_bytes', 'toolgate_policy_worker_external_bytes']) {
      const values = [...text.matchAll(new RegExp(`^${name}\\{worker="(\\d)"\\} (\\d+)$`, 'gm'))].map((m) => [m[1], Number(m[2])]);
      expect(values.map(([w]) => w), name).toEqual(['0', '1']);
      // A worker holding the policy has a heap of its own, and the wasm data outside it.
      for (const [, v] of values) expect(v as number).toBeGreaterThan(name.includes('heap') ? 1_000_000 : 0);
    }
    // A worker that is gone is not reported as one that holds memory.
    const gone = pool.threadIds[0]!;
    await pool.terminateWorker(gone);
    expect((await pool.heapStatistics()).map((h) => h.threadId)).not.toContain(gone);
    await pool.close();
  }, 60_000);

  it('refuses a bad pool size by name', () => {
    expect(() => new PolicyWorkerPool({ size: 0 })).toThrow(/pool size must be a positive integer/);
  });
});
