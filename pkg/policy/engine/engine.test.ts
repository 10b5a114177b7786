// The engine's fail-closed behaviour and atomic swaps, with the real policy.wasm and small
// purpose-built wasm modules for the failure paths.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compilePolicy, type CompiledData } from '../compiler/index.ts';
import { PolicyEngine, PolicyLoadError, type PolicyWasm } from './engine.ts';
import { buildPolicyWasm, ensurePolicyWasm, wasmIsStale } from './policy-wasm.ts';
import { fixturePolicy, fixtureProfiles } from './testdata/load.ts';
import { RULES, type PolicyInput } from './types.ts';

let wasm: Buffer;
let data: CompiledData;
let tmp: string;

/** Builds a one-file Rego program to wasm with the real opa. */
function buildRego(name: string, rego: string, entrypoints?: string[]): Buffer {
  const dir = path.join(tmp, name);
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'policy.rego'), rego);
  return readFileSync(buildPolicyWasm(path.join(tmp, `${name}.wasm`), dir, entrypoints));
}

const probeAnswer = `{"action": "deny", "rule": "toolgate:invalid-input", "reasons": ["probe"], "labels": [], "annotations": {},
  "verb": "", "approvers": [], "quorum": 0, "timeout": "", "enforcement": "enforce", "sources": []}`;

beforeAll(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'toolgate-engine-'));
  wasm = readFileSync(ensurePolicyWasm());
  const compiled = compilePolicy(fixturePolicy(), fixtureProfiles());
  if (!compiled.data) throw new Error(JSON.stringify(compiled.problems));
  data = compiled.data;
}, 120_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const readEmail: PolicyInput = { server: 'gmail', tool: 'read_email', arguments: { id: '1' } };

describe('PolicyEngine', () => {
  it('denies everything before a policy is loaded', () => {
    const engine = new PolicyEngine();
    expect(engine.current).toBeUndefined();
    expect(engine.evaluate(readEmail)).toMatchObject({ action: 'deny', rule: RULES.noPolicy, reasons: ['no policy bundle loaded'] });
    expect(engine.classify(readEmail)).toEqual({ valid: false, errors: ['no policy bundle loaded'] });
  });

  it('evaluates and classifies once loaded', async () => {
    const engine = new PolicyEngine();
    const info = await engine.load(wasm, data, 'rev-1');
    expect(info.revision).toBe('rev-1');
    expect(engine.current?.revision).toBe('rev-1');
    expect(engine.evaluate(readEmail)).toMatchObject({ action: 'allow', rule: 'Allow read-only', policy: { namespace: 'agents', name: 'acme' } });
    expect(engine.classify(readEmail)).toMatchObject({ valid: true, known: true, verb: 'get', sources: ['profile:gmail'] });
    expect(engine.classify({ server: 'gmail' } as PolicyInput)).toEqual({ valid: false, errors: ['input.tool must be a non-empty string'] });
  });

  it('denies undefined input instead of throwing', async () => {
    const engine = new PolicyEngine();
    await engine.load(wasm, data);
    expect(engine.evaluate(undefined as unknown as PolicyInput)).toMatchObject({ action: 'deny', rule: RULES.invalidInput });
  });

  it('denies with the error when the input cannot be serialised', async () => {
    const engine = new PolicyEngine();
    await engine.load(wasm, data);
    const d = engine.evaluate({ ...readEmail, arguments: { n: 1n } });
    expect(d).toMatchObject({ action: 'deny', rule: RULES.evaluationError });
    expect(d.reasons[0]).toMatch(/^policy evaluation failed: .*BigInt/);
    expect(engine.classify({ ...readEmail, arguments: { n: 1n } })).toMatchObject({ valid: false });
  });

  it('swaps atomically and keeps the old policy when a load fails', async () => {
    const engine = new PolicyEngine();
    await engine.load(wasm, data, 'deny-by-default');
    const external: PolicyInput = { server: 'github', tool: 'create_issue', arguments: { body: 'clean' } };
    expect(engine.evaluate(external).action).toBe('deny');

    const allowAll = fixturePolicy();
    allowAll.spec.defaultAction = 'allow';
    await engine.load(wasm, compilePolicy(allowAll, fixtureProfiles()).data, 'allow-by-default');
    expect(engine.evaluate(external)).toMatchObject({ action: 'allow', rule: RULES.default });

    await expect(engine.load(Buffer.from('not wasm'), data, 'broken')).rejects.toThrow(PolicyLoadError);
    await expect(engine.load(wasm, { unrelated: true }, 'no-data')).rejects.toThrow(/not a compiled toolgate document/);
    expect(engine.current?.revision).toBe('allow-by-default');
    expect(engine.evaluate(external).action).toBe('allow');

    engine.unload();
    expect(engine.evaluate(external).rule).toBe(RULES.noPolicy);
  });

  it('lets the load started last win when loads overlap', async () => {
    const engine = new PolicyEngine();
    // lib has no DOM types here; the runtime's WebAssembly is there all the same.
    const wa = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<PolicyWasm> } }).WebAssembly;
    const module = await wa.compile(wasm);
    const first = engine.load(wasm, data, 'first');
    const second = engine.load(module, data, 'second');
    await Promise.all([first, second]);
    expect(engine.current?.revision).toBe('second');
  });

  it('rejects a wasm without the toolgate entrypoints', async () => {
    const other = buildRego('other', 'package other\n\nx := 1\n', ['other/x']);
    await expect(new PolicyEngine().load(other, data)).rejects.toThrow(/no entrypoint toolgate\/decision/);
  }, 60_000);

  it('rejects a wasm that needs builtins from the JavaScript SDK', async () => {
    const sprintf = buildRego('sprintf', `package toolgate\n\ndecision := ${probeAnswer}\n\nclassification := sprintf("%v", [input])\n`);
    await expect(new PolicyEngine().load(sprintf, data)).rejects.toThrow(/builtins implemented outside the wasm: sprintf/);
  }, 60_000);

  it('denies when the policy answers with something that is not a decision', async () => {
    const odd = buildRego('odd', `package toolgate\n\ndecision := ${probeAnswer} if count(input) == 0 else := {"action": "allow"}\n\nclassification := 1\n`);
    const engine = new PolicyEngine();
    await engine.load(odd, data);
    const d = engine.evaluate(readEmail);
    expect(d).toMatchObject({ action: 'deny', rule: RULES.evaluationError });
    expect(d.reasons[0]).toMatch(/no usable decision: decision.rule: is required/);
    expect(engine.classify(readEmail)).toEqual({ valid: false, errors: ['policy returned no classification'] });
  }, 60_000);

  it('rejects a policy whose probe answer is wrong', async () => {
    const allowAll = buildRego('allow', `package toolgate\n\ndecision := object.union(${probeAnswer}, {"action": "allow", "rule": "x"})\n\nclassification := 1\n`);
    await expect(new PolicyEngine().load(allowAll, data)).rejects.toThrow(/probe call should be denied/);
  }, 60_000);
});

describe('buildPolicyWasm', () => {
  it('builds a wasm that counts as up to date', () => {
    const fresh = buildPolicyWasm(path.join(tmp, 'fresh.wasm'));
    expect(wasmIsStale(fresh)).toBe(false);
    expect(wasmIsStale(path.join(tmp, 'missing.wasm'))).toBe(true);
  }, 60_000);

  it("reports opa's own error for Rego that does not compile", () => {
    expect(() => buildRego('broken', 'package toolgate\n\ndecision := \n')).toThrow(/opa build of .*broken failed: [\s\S]*rego_parse_error/);
  }, 60_000);
});
