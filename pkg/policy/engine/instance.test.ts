// Aborting evaluations against the real opa-wasm: a bare instance wears out after about a
// thousand (the upstream behaviour instance.ts exists for); a PolicyInstance does not.
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { PolicyEngine } from './engine.ts';
import { PolicyInstance, RESTORE_LIMIT } from './instance.ts';
import { ensurePolicyWasm } from './policy-wasm.ts';
import { buildEchoWasm } from './testdata/input-corpus.ts';
import { compileVariant } from './testdata/cases.ts';
import { RULES, type PolicyInput } from './types.ts';

const bytes = (text: string) => new TextEncoder().encode(text).buffer as ArrayBuffer;
/** JSON text opa-wasm's reader refuses with an abort: an escaped lone surrogate. */
const aborting = () => bytes('{"x":"\\ud800"}');
const fine = () => bytes('{"x":"ok"}');
const reasonOf = (rs: unknown) => (rs as Array<{ result: { reasons: string[] } }>)[0]!.result.reasons[0];

let echo: Buffer;
let module: WebAssembly.Module;
beforeAll(async () => {
  echo = buildEchoWasm();
  // The WebAssembly global: this project's type libraries declare its types, not the value.
  module = await (globalThis as unknown as { WebAssembly: { compile(b: Uint8Array): Promise<WebAssembly.Module> } }).WebAssembly.compile(echo);
}, 120_000);

describe('a policy instance after aborting evaluations', () => {
  it('bare opa-wasm: every call traps once about a thousand evaluations have aborted (why PolicyInstance exists)', async () => {
    const bare = await loadPolicy(module);
    bare.setData({});
    let brokenAfter = 0;
    for (let n = 1; n <= 3000 && !brokenAfter; n++) {
      expect(() => bare.evaluate(aborting(), 'toolgate/decision')).toThrow();
      try {
        bare.evaluate(fine(), 'toolgate/decision');
      } catch {
        brokenAfter = n;
      }
    }
    expect(brokenAfter).toBeGreaterThan(RESTORE_LIMIT);
    expect(() => bare.evaluate(fine(), 'toolgate/decision')).toThrow(/memory access out of bounds/);
  }, 60_000);

  it('PolicyInstance: 3 000 aborting evaluations spread over time, and a well-formed call still answers after every one', async () => {
    const policy = await loadPolicy(module);
    policy.setData({});
    const instance = new PolicyInstance(policy, module, bytes('{}'));
    for (let n = 1; n <= 3000; n++) {
      expect(() => instance.evaluate(aborting(), 'toolgate/decision')).toThrow(/illegal string escape/);
      expect(reasonOf(instance.evaluate(fine(), 'toolgate/decision'))).toBe('{"x":"ok"}');
      if (n % 100 === 0) await instance.settled();
    }
    expect(instance.restores).toBeGreaterThanOrEqual(30);
  }, 60_000);

  it(`PolicyInstance: a burst faster than a replacement is refused after ${RESTORE_LIMIT} failures, by name, and answers again once replaced`, async () => {
    const policy = await loadPolicy(module);
    policy.setData({});
    const instance = new PolicyInstance(policy, module, bytes('{}'));
    // Synchronously: no replacement can be swapped in during the loop.
    for (let n = 1; n <= RESTORE_LIMIT; n++) expect(() => instance.evaluate(aborting(), 'toolgate/decision')).toThrow(/illegal string escape/);
    expect(() => instance.evaluate(fine(), 'toolgate/decision')).toThrow(`the policy instance failed ${RESTORE_LIMIT} evaluations and is being replaced; refused until it is`);
    await instance.settled();
    expect(instance.restores).toBe(1);
    expect(reasonOf(instance.evaluate(fine(), 'toolgate/decision'))).toBe('{"x":"ok"}');
  }, 60_000);

  it('the engine refuses a lone surrogate before the wasm, naming it, and still decides right after 3 000 such calls (in-process)', async () => {
    const engine = new PolicyEngine();
    await engine.load(readFileSync(ensurePolicyWasm()), compileVariant('base'), 'rev-1');
    const good = { server: 'gmail', tool: 'read_email', arguments: {}, caller: { agent: 'agent-1', operator: 'alice', roles: [], scopes: [] } } as unknown as PolicyInput;
    const expected = engine.evaluate(good);
    expect(expected.action).toBe('allow');
    for (let n = 0; n < 3000; n++) {
      const bad = engine.evaluate({ ...good, arguments: { q: `x\ud800${n}` } } as unknown as PolicyInput);
      expect(bad).toMatchObject({ action: 'deny', rule: RULES.evaluationError });
      expect(bad.reasons[0]).toBe('policy evaluation failed: the input has no JSON form the policy can read: it holds a lone UTF-16 surrogate (an unpaired \\ud800..\\udfff), which is not Unicode text');
    }
    expect(engine.evaluate(good)).toEqual(expected);
    // An escaped backslash before "ud800" is text, not a surrogate: read as such.
    expect(engine.evaluate({ ...good, arguments: { q: '\\ud800' } } as unknown as PolicyInput).action).toBe('allow');
  }, 60_000);
});
