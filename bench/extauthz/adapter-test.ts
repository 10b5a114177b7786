// `make test-bench`: the OPA-Envoy adapter's Rego tests (opa-envoy-adapter_test.rego) with the
// plugin's own OPA, over toolgate's Rego program and the bench policy's compiled data.json (the
// decision table the bench decides), plus `opa fmt` and `opa check --strict` of the adapter.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { policyDir } from '../../pkg/policy/engine/policy-wasm.ts';
import { compileFixture } from '../../test/support/extauthz.ts';
import { adapterPath, opaEnvoyBinary } from './opa-envoy.ts';

const dir = mkdtempSync(join(tmpdir(), 'toolgate-adapter-test-'));
const adapterTest = adapterPath.replace(/\.rego$/, '_test.rego');
const program = readdirSync(policyDir).filter((f) => f.endsWith('.rego') && !f.endsWith('_test.rego')).map((f) => join(policyDir, f));
let failed = false;
try {
  writeFileSync(join(dir, 'data.json'), JSON.stringify(compileFixture()));
  const opa = (args: string[]) => spawnSync(opaEnvoyBinary(), args, { encoding: 'utf8' });
  const fmt = opa(['fmt', '--list', adapterPath, adapterTest]);
  if (fmt.status !== 0 || fmt.stdout.trim()) {
    console.error(`not formatted (opa fmt -w): ${fmt.stdout}${fmt.stderr}`);
    failed = true;
  }
  const check = opa(['check', '--strict', ...program, adapterPath, adapterTest]);
  if (check.status !== 0) {
    console.error(`opa check --strict failed:\n${check.stdout}${check.stderr}`);
    failed = true;
  }
  const test = opa(['test', '--verbose', ...program, adapterPath, adapterTest, join(dir, 'data.json')]);
  process.stdout.write(test.stdout);
  process.stderr.write(test.stderr);
  if (test.status !== 0) failed = true;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
