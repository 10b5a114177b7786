// The policies whose compiled data the golden digests pin (golden-digests.json), and the script
// that records them: `node pkg/policy/compiler/testdata/golden-cases.ts > pkg/policy/compiler/testdata/golden-digests.json`.
// The digests were recorded with the compiler as it was before candidate lists were indexed
// (commit d05ca46); re-record them only for an intended change of the compiled output.
import type { McpProfile, McpSecurityPolicy } from '../../../../api/v1alpha1/index.ts';
import { policyFor, profilesFor } from '../../../../bench/synth.ts';
import { compilePolicy } from '../compile.ts';
import { contentHash } from '../../../json/canonical.ts';
import { randomPolicy } from './random-policy.ts';

export interface GoldenCase {
  name: string;
  material: () => { policy: McpSecurityPolicy; profiles: ReadonlyMap<string, McpProfile> };
}

const bench = (servers: number, toolsPerServer: number, rules: number): GoldenCase => ({
  name: `bench synth ${servers}x${toolsPerServer} tools, ${rules} rules`,
  material: () => ({ policy: policyFor({ servers, toolsPerServer, rules }), profiles: profilesFor(servers, toolsPerServer) }),
});

export const goldenCases: GoldenCase[] = [
  ...Array.from({ length: 30 }, (_, i): GoldenCase => {
    const opts = { seed: 1000 + i, servers: 1 + (i % 6), toolsPerServer: 5 + ((i * 7) % 60), rules: 3 + ((i * 13) % 120) };
    return { name: `random seed ${opts.seed} (${opts.servers} servers, ${opts.toolsPerServer} tools each, ${opts.rules} rules)`, material: () => randomPolicy(opts) };
  }),
  bench(50, 200, 10),
  bench(50, 200, 100),
  bench(20, 200, 400),
  bench(50, 200, 1000),
];

/** sha256 of the canonical compiled data (what data.json holds). */
export function digestOf(c: GoldenCase): string {
  const { policy, profiles } = c.material();
  const result = compilePolicy(policy, profiles);
  if (!result.data) throw new Error(`${c.name} does not compile: ${JSON.stringify(result.problems.slice(0, 3))}`);
  return contentHash(result.data);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out: Record<string, string> = {};
  for (const c of goldenCases) out[c.name] = digestOf(c);
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}
