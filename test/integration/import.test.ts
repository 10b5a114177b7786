// `kubectl mcp import --apply` and `export` against the real API server: the strategy document's
// §4.4 file and §4.5 pack become objects the API server accepts (its schema and CEL rules),
// applied server-side by field manager kubectl-mcp-import, and `export` of what the cluster
// stores gives back a file that imports to the same spec (the API server's defaults included).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { McpProfile, McpSecurityPolicy } from '../../api/v1alpha1/index.ts';
import { main } from '../../kubectl-mcp/commands.ts';
import { importSecurityFile } from '../../pkg/security-file/import.ts';
import { controlPlane, withNamespace } from '../harness/kube.ts';
import { admin } from './approval-admission-support.ts';

const ns = withNamespace('import');
const testdata = (f: string) => new URL(`../../pkg/security-file/testdata/${f}`, import.meta.url).pathname;
const servers = ['--server', 'gmail=http://gmail.mcp:8080/mcp', '--server', 'github=http://github.mcp:8080/mcp', '--server', 'stripe=http://stripe.mcp:8080/mcp', '--server', 'custom-internal-tool=http://internal.mcp:8080/mcp'];

async function mcp(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void) => new Writable({ write(c, _e, cb) { f(String(c)); cb(); } });
  const code = await main([...args, `--kubeconfig=${controlPlane().adminKubeconfig}`], sink((s) => (out += s)), sink((s) => (err += s)));
  return { code, out, err };
}

describe('kubectl mcp import --apply', () => {
  it('applies the §4.4 file as an McpSecurityPolicy the API server accepts, and exports it back', async () => {
    const applied = await mcp(['import', testdata('strategy-4.4-mcp-security.yaml'), '--name', 'acme', '-n', ns, '--apply', ...servers]);
    expect(applied, applied.err).toMatchObject({ code: 0, out: `mcpsecuritypolicy.toolgate.io/acme serverside-applied in namespace ${ns}\n` });
    const stored = await admin().get<McpSecurityPolicy>({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpsecuritypolicies', namespace: ns, name: 'acme' });
    expect((stored.metadata as { managedFields?: Array<{ manager: string }> }).managedFields?.map((f) => f.manager)).toContain('kubectl-mcp-import');
    expect(stored.spec.policies).toHaveLength(7);

    const exported = await mcp(['export', 'policy', 'acme', '-n', ns]);
    expect(exported.code, exported.err).toBe(0);
    // The exported file, applied under another name, is stored exactly as the original (the API
    // server's defaults, such as transport: streamable-http, are applied to both alike).
    expect(importSecurityFile(exported.out, { name: 'acme-again', namespace: ns }).spec.policies).toEqual(stored.spec.policies);
    const dir = mkdtempSync(join(tmpdir(), 'export-'));
    writeFileSync(join(dir, 'mcp-security.yaml'), exported.out);
    expect((await mcp(['import', join(dir, 'mcp-security.yaml'), '--name', 'acme-again', '-n', ns, '--apply'])).code).toBe(0);
    const again = await admin().get<McpSecurityPolicy>({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpsecuritypolicies', namespace: ns, name: 'acme-again' });
    expect(again.spec).toEqual(stored.spec);

    // Applying again is a no-op for the API server: same generation.
    expect((await mcp(['import', testdata('strategy-4.4-mcp-security.yaml'), '--name', 'acme', '-n', ns, '--apply', ...servers])).code).toBe(0);
    const reapplied = await admin().get<McpSecurityPolicy>({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpsecuritypolicies', namespace: ns, name: 'acme' });
    expect(reapplied.metadata.generation).toBe(stored.metadata.generation);
  });

  it('applies the §4.5 pack as an McpProfile', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pack-'));
    // A pack of its own name, so the cluster's shipped gmail profile (if any test installed it) is untouched.
    const file = join(dir, 'pack.yaml');
    writeFileSync(file, readFileSync(testdata('strategy-4.5-gmail-pack.yaml'), 'utf8'));
    const name = `gmail-${ns}`.slice(0, 63);
    const applied = await mcp(['import', file, '--name', name, '--apply']);
    expect(applied, applied.err).toMatchObject({ code: 0, out: `mcpprofile.toolgate.io/${name} serverside-applied\n` });
    try {
      const stored = await admin().get<McpProfile>({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpprofiles', name });
      expect(stored.spec.tools.map((t) => t.name)).toEqual(['send_email', 'delete_email', 'batch_delete_emails', 'search_emails', 'read_email', 'draft_email']);
      expect(stored.spec.tools[0]?.classify?.[1]).toEqual({ field: 'to', notContains: '@{company_domain}', setLabels: ['scope:external'] });
    } finally {
      await admin().delete({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpprofiles', name }).catch(() => undefined);
    }
  });

  it('refuses a file with an unmappable field, naming it and its line, and applies nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bad-'));
    const file = join(dir, 'mcp-security.yaml');
    writeFileSync(file, 'version: "1.0"\npolicies:\n  - name: a\n    when: {verb: create}\n    action: allow\n    priority: 1\n    escalate: true\n');
    const r = await mcp(['import', file, '--name', 'bad', '-n', ns, '--apply']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('line 7: policies[0].escalate: unknown key "escalate"');
    const list = await admin().list({ group: 'toolgate.io', version: 'v1alpha1', plural: 'mcpsecuritypolicies', namespace: ns });
    expect(list.items.map((p) => (p as McpSecurityPolicy).metadata.name)).not.toContain('bad');
  });
});
