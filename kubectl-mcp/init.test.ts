// `kubectl mcp init` and `profile`: the scaffold names every variable and server the chosen
// profiles need, refuses to import until they are filled, and once filled imports and compiles
// with the shipped profiles (real compiler) and matches the published JSON Schema.
import { Writable } from 'node:stream';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { McpProfile } from '../api/v1alpha1/index.ts';
import { compilePolicy } from '../pkg/policy/compiler/index.ts';
import { importSecurityFile } from '../pkg/security-file/import.ts';
import { securityFileSchema } from '../pkg/security-file/json-schema.ts';
import { SecurityFileError } from '../pkg/security-file/located.ts';
import { main } from './commands.ts';
import { scaffold } from './init.ts';
import { shippedProfile } from './profile-source.ts';

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void) => new Writable({ write(c, _e, cb) { f(String(c)); cb(); } });
  const code = await main(args, sink((s) => (out += s)), sink((s) => (err += s)));
  return { code, out, err };
}

const validate = new Ajv({ strict: false, allErrors: true }).compile(securityFileSchema);

describe('kubectl mcp init', () => {
  it('leaves what it was not told empty, and import refuses it naming the line', async () => {
    const { code, out } = await run(['init', '--profile', 'gmail', '--profile', '@openclaw/security-github', '--tenant', 'acme']);
    expect(code).toBe(0);
    expect(out.split('\n')[0]).toBe('# yaml-language-server: $schema=https://raw.githubusercontent.com/toolgate/toolgate/main/schemas/mcp-security.schema.json');
    try {
      importSecurityFile(out, { name: 'acme' });
      expect.unreachable('an unfilled scaffold must not import');
    } catch (e) {
      expect(e).toBeInstanceOf(SecurityFileError);
      const problems = (e as SecurityFileError).problems.map((p) => [p.field, p.message.split(' ')[0], out.split('\n')[p.line - 1]?.trim().split(':')[0]]);
      expect(problems).toEqual(expect.arrayContaining([
        ['tenant.company_domain', 'must', 'company_domain'], ['tenant.github_org', 'must', 'github_org'],
        ['servers.gmail', 'must', 'gmail'], ['servers.github', 'must', 'github'],
      ]));
    }
  });

  it('filled in, imports, matches the schema and compiles with the shipped profiles', () => {
    const text = scaffold({
      profiles: ['gmail', 'slack'], tenant: 'acme', vars: { company_domain: 'acme.com' },
      servers: { gmail: 'http://gmail.mcp:8080/mcp', slack: 'http://slack.mcp:8080/mcp' },
    });
    expect(validate(parse(text)), JSON.stringify(validate.errors)).toBe(true);
    const policy = importSecurityFile(text, { name: 'acme', namespace: 'team-a' });
    expect(policy.spec.profiles).toEqual([{ name: 'gmail' }, { name: 'slack' }]);
    expect(policy.spec.tenant).toEqual({ company_domain: 'acme.com' });
    const profiles = new Map<string, McpProfile>([['gmail', shippedProfile('gmail')], ['slack', shippedProfile('slack')]]);
    expect(compilePolicy(policy, profiles).problems).toEqual([]);
  });

  it('needs a profile, and refuses an unknown one', async () => {
    expect((await run(['init'])).code).toBe(2);
    const r = await run(['init', '--profile', '@openclaw/security-outlook']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('is not a shipped community profile');
  });
});

describe('kubectl mcp profile', () => {
  it('lists the shipped profiles with their references and tenant variables', async () => {
    const { code, out } = await run(['profile', 'list']);
    expect(code).toBe(0);
    expect(out).toMatch(/^gmail\s+@openclaw\/security-gmail\s+gmail\s+1\.0\.0\s+19\s+company_domain$/m);
    expect(out.trim().split('\n')).toHaveLength(10);
  });

  it('shows a pack file as an McpProfile and a shipped profile as a pack', async () => {
    const pack = new URL('../pkg/security-file/testdata/strategy-4.5-gmail-pack.yaml', import.meta.url).pathname;
    const shown = await run(['profile', 'show', pack]);
    expect((parse(shown.out) as McpProfile).spec.tools).toHaveLength(6);
    const asPack = await run(['profile', 'show', '@openclaw/security-slack', '-o', 'pack']);
    expect(asPack.out.split('\n')[0]).toBe(`# @openclaw/security-slack ${shippedProfile('slack').spec.version}`);
    const listed = await run(['profile', 'list', pack]);
    expect(listed.out).toMatch(/^gmail\s+\S+strategy-4\.5-gmail-pack\.yaml\s+gmail\s+v1\.0\.0\s+6\s+company_domain$/m);
  });

  it('add prints the McpProfile to apply', async () => {
    const { out } = await run(['profile', 'add', 'stripe']);
    expect(parse(out)).toEqual(shippedProfile('stripe'));
  });
});
