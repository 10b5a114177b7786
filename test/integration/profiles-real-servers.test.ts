// Each community profile against the real MCP server it describes: the server is started from
// its npm package over stdio, the official SDK client reads tools/list, and the profile must
// name exactly the tools the server exposes, point its classifiers at arguments that exist,
// and never be less cautious than the annotations the server declares for itself.
// Credentials are dummies and HOME is a temporary directory: listing tools needs no account,
// and no real kubeconfig, token or mailbox is ever read.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { ClientCapabilities, Tool } from '@modelcontextprotocol/sdk/types.js';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { McpProfile, ProfileTool } from '../../api/v1alpha1/index.ts';

const profilesDir = fileURLToPath(new URL('../../profiles/', import.meta.url));
const require = createRequire(import.meta.url);

interface Launch {
  args?: (dir: string) => string[];
  env?: (dir: string) => Record<string, string>;
  /** Some servers register tools only for clients that declare matching capabilities. */
  capabilities?: ClientCapabilities;
  /** A server that lives in this repository (no npm package): run this script instead. */
  script?: string;
}

/** How to start each profile's server; a profile missing here must be listed in `unverifiable`. */
const launches: Record<string, Launch> = {
  filesystem: { args: (dir) => [dir] },
  everything: {
    args: () => ['stdio'],
    capabilities: {
      roots: { listChanged: true },
      sampling: {},
      elicitation: { form: {}, url: {} },
      tasks: { requests: { sampling: { createMessage: {} }, elicitation: { create: {} } } },
    } as ClientCapabilities,
  },
  github: { env: () => ({ GITHUB_PERSONAL_ACCESS_TOKEN: 'ghp_dummy' }) },
  slack: { env: () => ({ SLACK_BOT_TOKEN: 'xoxb-dummy', SLACK_TEAM_ID: 'T00000000' }) },
  // Nothing listens on port 1; the server connects only when a query runs.
  postgres: { args: () => ['postgresql://toolgate@127.0.0.1:1/none'] },
  stripe: { args: () => ['--tools=all', '--api-key=sk_test_dummy'] },
  kubernetes: {
    env: (dir) => {
      const kubeconfig = join(dir, 'kubeconfig');
      writeFileSync(kubeconfig, [
        'apiVersion: v1', 'kind: Config', 'current-context: none',
        'clusters: [{name: none, cluster: {server: "https://127.0.0.1:1"}}]',
        'users: [{name: none, user: {token: dummy}}]',
        'contexts: [{name: none, context: {cluster: none, user: none}}]',
      ].join('\n'));
      return { KUBECONFIG: kubeconfig };
    },
  },
  gmail: {
    env: (dir) => {
      // Not named gcp-oauth.keys.json: the server copies a file of that name from its cwd and
      // announces it on stdout, which would corrupt the JSON-RPC stream.
      const keys = join(dir, 'dummy-oauth-keys.json');
      writeFileSync(keys, JSON.stringify({ installed: { client_id: 'dummy.apps.googleusercontent.com', client_secret: 'dummy' } }));
      return { GMAIL_OAUTH_PATH: keys, GMAIL_CREDENTIALS_PATH: join(dir, 'no-credentials.json') };
    },
  },
};

// No public server implements the governance guide's primitives; the demo's fixture server
// does, under the profile's names.
launches['business-automation'] = { script: fileURLToPath(new URL('../fixtures/business-automation/server.ts', import.meta.url)), args: () => ['stdio'] };

const unverifiable: Record<string, string> = {};

function loadProfiles(): McpProfile[] {
  return readdirSync(profilesDir)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .sort()
    .map((f) => parse(readFileSync(join(profilesDir, f), 'utf8')) as McpProfile);
}

/** `npm:<name>@<version>` in spec.upstream names the package the profile was written against. */
function upstreamPackage(p: McpProfile): { name: string; version: string } {
  const m = /^npm:(@?[^@\s]+)@([^\s]+)$/.exec(p.spec.upstream ?? '');
  if (!m) throw new Error(`${p.metadata.name}: spec.upstream "${p.spec.upstream}" is not npm:<package>@<version>`);
  return { name: m[1]!, version: m[2]! };
}

function binOf(pkgName: string): { bin: string; version: string } {
  const pkgJson = require.resolve(`${pkgName}/package.json`);
  const pkg = JSON.parse(readFileSync(pkgJson, 'utf8')) as { version: string; bin?: string | Record<string, string> };
  const rel = typeof pkg.bin === 'string' ? pkg.bin : Object.values(pkg.bin ?? {})[0];
  if (!rel) throw new Error(`${pkgName} has no bin`);
  return { bin: join(dirname(pkgJson), rel), version: pkg.version };
}

async function listTools(client: Client): Promise<Tool[]> {
  const tools: Tool[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  return tools;
}

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema | JsonSchema[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  additionalProperties?: boolean | JsonSchema;
};

/**
 * Whether a classifier field path (`files[*].content`, `to[0]`, `action.forward`) can reach a
 * value under the tool's input schema. Alternatives (anyOf/oneOf/allOf) count when any branch
 * has the step; a free-form object (no properties) accepts any key.
 */
function pathExists(schema: JsonSchema | undefined, path: string): boolean {
  const steps: Array<'index' | string> = [];
  for (const part of path.split('.')) {
    const m = /^([^[]+)((?:\[(?:\*|[0-9]+)\])*)$/.exec(part);
    if (!m) return false;
    steps.push(m[1]!);
    for (let i = 0; i < (m[2]!.match(/\[/g) ?? []).length; i++) steps.push('index');
  }
  let frontier: JsonSchema[] = schema ? [schema] : [];
  for (const step of steps) {
    const expand = (s: JsonSchema): JsonSchema[] => [s, ...[...(s.anyOf ?? []), ...(s.oneOf ?? []), ...(s.allOf ?? [])].flatMap(expand)];
    frontier = frontier.flatMap(expand).flatMap((s): JsonSchema[] => {
      if (step === 'index') return s.items === undefined ? [] : Array.isArray(s.items) ? s.items : [s.items];
      if (s.properties?.[step]) return [s.properties[step]];
      const freeForm = s.type === 'object' && !s.properties && s.additionalProperties !== false;
      return freeForm ? [typeof s.additionalProperties === 'object' ? s.additionalProperties : {}] : [];
    });
    if (frontier.length === 0) return false;
  }
  return true;
}

/**
 * Hints where the profile claims less risk than the server declares about itself. Only hints
 * the server states count; where it says nothing the profile's judgement stands.
 */
function lessCautious(server: Tool, profile: ProfileTool): string[] {
  const a = server.annotations ?? {};
  const out: string[] = [];
  if (a.readOnlyHint === false && profile.readOnlyHint === true) out.push('readOnlyHint');
  if (a.destructiveHint === true && profile.destructiveHint === false) out.push('destructiveHint');
  if (a.idempotentHint === false && profile.idempotentHint === true) out.push('idempotentHint');
  if (a.openWorldHint === true && profile.openWorldHint === false) out.push('openWorldHint');
  return out;
}

const profiles = loadProfiles();

it('every profile has a way to start its server or a reason why it cannot be checked', () => {
  const uncovered = profiles.map((p) => p.metadata.name!).filter((n) => !(n in launches) && !(n in unverifiable));
  expect(uncovered).toEqual([]);
});

for (const profile of profiles) {
  const name = profile.metadata.name!;
  const reason = unverifiable[name];
  if (reason !== undefined) {
    it.skip(`${name}: not checked against a real server (${reason})`, () => undefined);
    continue;
  }
  const launch = launches[name];
  if (!launch) continue;

  describe(`${name} against ${profile.spec.upstream}`, () => {
    let dir: string;
    let client: Client;
    let serverTools: Tool[];
    let stderr = '';

    beforeAll(async () => {
      let bin = launch.script;
      if (bin === undefined) {
        const pkg = upstreamPackage(profile);
        const installed = binOf(pkg.name);
        // The profile says which release it describes; testing another would prove nothing.
        expect(installed.version, `installed ${pkg.name}`).toBe(pkg.version);
        bin = installed.bin;
      }
      dir = mkdtempSync(join(tmpdir(), `toolgate-profile-${name}-`));
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [bin, ...(launch.args?.(dir) ?? [])],
        env: { HOME: dir, ...launch.env?.(dir) },
        cwd: dir,
        stderr: 'pipe',
      });
      transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      client = new Client({ name: 'toolgate-profile-check', version: '0.0.0' }, { capabilities: launch.capabilities ?? {} });
      try {
        await client.connect(transport);
        serverTools = await listTools(client);
      } catch (err) {
        throw new Error(`${name}: ${(err as Error).message}\nserver stderr:\n${stderr}`, { cause: err });
      }
    });

    afterAll(async () => {
      await client?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('classifies every tool the server exposes', () => {
      const covered = new Set(profile.spec.tools.map((t) => t.name));
      expect(serverTools.length).toBeGreaterThan(0);
      expect(serverTools.map((t) => t.name).filter((n) => !covered.has(n)).sort()).toEqual([]);
    });

    it('names no tool the server does not expose', () => {
      const exposed = new Set(serverTools.map((t) => t.name));
      expect(profile.spec.tools.map((t) => t.name).filter((n) => !exposed.has(n)).sort()).toEqual([]);
    });

    it('points every classifier at an argument of the tool', () => {
      const schemas = new Map(serverTools.map((t) => [t.name, t.inputSchema as JsonSchema]));
      const dangling = profile.spec.tools.flatMap((t) =>
        (t.classify ?? []).filter((c) => schemas.has(t.name) && !pathExists(schemas.get(t.name), c.field)).map((c) => `${t.name}: ${c.field}`),
      );
      expect([...new Set(dangling)]).toEqual([]);
    });

    it('is never less cautious than the server\'s own annotations', () => {
      const byName = new Map(profile.spec.tools.map((t) => [t.name, t]));
      const weaker = serverTools.flatMap((s) => {
        const p = byName.get(s.name);
        return p ? lessCautious(s, p).map((h) => `${s.name}.${h}`) : [];
      });
      expect(weaker).toEqual([]);
    });
  });
}
