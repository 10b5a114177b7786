// The decision table: the strategy document's default policies (§6.2) and examples (§4.4-4.5)
// and the governance guide's human-in-the-loop gates, each case naming the rule it expects.
// Runs the real policy.wasm (built by the real opa) over data compiled from the YAML fixtures,
// and checks that the per-tool candidate lists change no decision and that OPA's own
// evaluator (opa eval) agrees with the wasm on every case.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { patternRowFor, type CompiledData } from '../compiler/index.ts';
import { PolicyEngine } from './engine.ts';
import { ensurePolicyWasm, opaBinary, policyDir } from './policy-wasm.ts';
import { cases, compileVariant, variantPolicy, type Case, type Variant } from './testdata/cases.ts';
import type { Decision, PolicyInput } from './types.ts';

/** The same document with every candidate list holding every rule: what evaluation would be without the compiler's pruning. */
function withoutPruning(data: CompiledData): CompiledData {
  const copy = structuredClone(data);
  copy.toolgate.compiled.candidateLists = copy.toolgate.compiled.candidateLists.map(() => copy.toolgate.compiled.policies.map((_, i) => i));
  return copy;
}

const engines = new Map<Variant, PolicyEngine>();
let unpruned: PolicyEngine;
const data = new Map<Variant, CompiledData>();

beforeAll(async () => {
  const wasm = readFileSync(ensurePolicyWasm());
  for (const v of ['base', 'dryrun', 'defaultAllow'] as const) {
    data.set(v, compileVariant(v));
    const engine = new PolicyEngine();
    await engine.load(wasm, data.get(v), v);
    engines.set(v, engine);
  }
  unpruned = new PolicyEngine();
  await unpruned.load(wasm, withoutPruning(data.get('base')!), 'unpruned');
}, 120_000);

function expectCase(d: Decision, c: Case): void {
  expect({ action: d.action, rule: d.rule }).toEqual({ action: c.action, rule: c.rule });
  expect(d.reasons.length).toBeGreaterThan(0);
  if (c.variant === 'dryrun' && c.dryRunAction) expect(d.dryRunAction).toBe(c.dryRunAction);
  else expect(d.dryRunAction).toBeUndefined();
  if (c.labels) expect(d.labels).toEqual(expect.arrayContaining(c.labels));
  if (c.verb !== undefined) expect(d.verb).toBe(c.verb);
  if (c.approvers) expect(d.approvers).toEqual(c.approvers);
  if (c.quorum !== undefined) expect(d.quorum).toBe(c.quorum);
  if (c.timeout !== undefined) expect(d.timeout).toBe(c.timeout);
  if (c.sources) expect(d.sources).toEqual(c.sources);
  if (c.annotations) expect(d.annotations).toMatchObject(c.annotations);
  const approval = (c.dryRunAction ?? c.action) === 'require_approval';
  expect(d.approvers.length > 0).toBe(approval);
  expect(d.quorum > 0).toBe(approval);
}

describe('decision table', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const d = engines.get(c.variant ?? 'base')!.evaluate(c.input as PolicyInput);
    expectCase(d, c);
  });

  it('covers every rule of the fixture policy', () => {
    const named = new Set(cases.map((c) => c.rule));
    for (const p of variantPolicy('defaultAllow').spec.policies) expect(named, p.name).toContain(p.name);
  });

  it('candidate-list pruning changes no decision', () => {
    for (const c of cases.filter((x) => (x.variant ?? 'base') === 'base')) {
      expect(unpruned.evaluate(c.input as PolicyInput), c.name).toEqual(engines.get('base')!.evaluate(c.input as PolicyInput));
    }
  });

  it('the Rego applies the same name pattern as the compiler describes', () => {
    const names = [
      'delete_file', 'batchDelete', 'DELETE_USER', 'undelete', 'execute_sql', 'puppeteer_evaluate', 'longRunningOperation',
      'merge_pull_request', 'sendsMessage', 'posted', 'share_file', 'edit_file', 'adding_rows', 'address_book', 'list_channels',
      'getFileContents', 'read_and_delete', 'get_or_create', 'XMLParser', 'déjà_vu', 'frobnicate', 'a', 'GET',
    ];
    const patterns = data.get('base')!.toolgate.compiled.patterns;
    for (const name of names) {
      const c = engines.get('base')!.classify({ server: 'internal', tool: name });
      if (!c.valid) throw new Error(c.errors.join('; '));
      const row = patternRowFor(name, patterns);
      expect(c.sources, name).toEqual(row ? [`pattern:${row.name}`] : []);
      if (row) expect(c.verb, name).toBe(row.verb);
    }
  });

  it("OPA's own evaluator agrees with the wasm on every case", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'toolgate-table-'));
    try {
      for (const v of ['base', 'dryrun', 'defaultAllow'] as const) {
        const selected = cases.filter((c) => (c.variant ?? 'base') === v);
        const file = path.join(dir, `${v}.json`);
        writeFileSync(file, JSON.stringify({ ...data.get(v), table: { inputs: selected.map((c) => c.input) } }));
        const out = execFileSync(opaBinary(), [
          'eval', '--format', 'json', '-d', policyDir, '-d', file,
          '[d | some i in data.table.inputs; d := data.toolgate.decision with input as i]',
        ], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
        const opaDecisions = (JSON.parse(out) as { result: Array<{ expressions: Array<{ value: Decision[] }> }> }).result[0]!.expressions[0]!.value;
        expect(opaDecisions).toHaveLength(selected.length);
        selected.forEach((c, i) => expect(engines.get(v)!.evaluate(c.input as PolicyInput), c.name).toEqual(opaDecisions[i]));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
