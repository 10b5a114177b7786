// The image ships production dependencies only and a subset of the sources: these tests prove,
// without building it, that everything the three entry points load is inside it. A package
// imported by shipped code but listed under devDependencies is absent after `npm ci --omit=dev`
// and the pod dies at start (the MCP SDKs were, before this test).
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bundles, external } from '../dist.ts';
import { shippedContainer, shippedEnv } from '../../test/support/shipped-container.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const entryPoints = ['cmd/operator/main.ts', 'cmd/authorizer/main.ts', 'cmd/kubectl-mcp/main.ts'];
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };

// Static imports, re-exports and dynamic imports with a literal specifier; `import type` is erased.
const specifiers = (source: string): string[] => {
  const found: string[] = [];
  for (const m of source.matchAll(/^\s*(?:import|export)\s+(?!type\s)[^;]*?\bfrom\s+'([^']+)'/gms)) found.push(m[1]!);
  for (const m of source.matchAll(/^\s*import\s+'([^']+)'/gm)) found.push(m[1]!);
  for (const m of source.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) found.push(m[1]!);
  for (const m of source.matchAll(/\brequire(?:\.resolve)?\(\s*'([^']+)'\s*\)/g)) found.push(m[1]!);
  return found;
};
const packageName = (spec: string): string => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);

/** Every source file the entry points load, transitively, and every package they name. */
function closure(): { files: Set<string>; packages: Map<string, string> } {
  const files = new Set<string>();
  const packages = new Map<string, string>();
  const queue = [...entryPoints];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const spec of specifiers(readFileSync(path.join(root, file), 'utf8'))) {
      if (spec.startsWith('.')) {
        const target = path.relative(root, path.resolve(root, path.dirname(file), spec));
        if (!existsSync(path.join(root, target))) throw new Error(`${file} imports ${spec}, which does not exist`);
        if (target.endsWith('.ts')) queue.push(target);
      } else if (!spec.startsWith('node:') && !builtinModules.includes(spec)) {
        packages.set(packageName(spec), file);
      }
    }
  }
  return { files, packages };
}

describe('the image holds what the entry points load', () => {
  const { files, packages } = closure();

  it('finds the imports it checks (the scan is not vacuous)', () => {
    expect(files.size).toBeGreaterThan(50);
    expect([...packages.keys()]).toEqual(expect.arrayContaining(['pino', '@kubernetes/client-node', '@modelcontextprotocol/sdk']));
  });

  it('every package shipped code imports is a production dependency', () => {
    const missing = [...packages].filter(([name]) => !(name in pkg.dependencies)).map(([name, file]) => `${name} (imported by ${file})`);
    expect(missing).toEqual([]);
  });

  it('every source file they load is in the build context .dockerignore lets through, which the runtime stage copies', () => {
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^COPY \. \.\/$/m);
    const ignore = readFileSync(path.join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    expect(ignore[0], '.dockerignore starts by excluding everything').toBe('*');
    const included = new Set(ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, '')));
    const notIncluded = [...files].filter((f) => !included.has(f.split('/')[0]!));
    expect(notIncluded).toEqual([]);
    expect(ignore).toEqual(expect.arrayContaining(['**/*.test.ts', '**/testdata/']));
    const excluded = [...files].filter((f) => f.endsWith('.test.ts') || f.split('/').includes('testdata'));
    expect(excluded).toEqual([]);
    // The policy the operator ships, at the path POLICY_WASM_FILE defaults to from /app.
    expect(included.has('build/policy/policy.wasm')).toBe(true);
  });

  it('the runtime stage runs as a numeric non-root user and installs production dependencies only', () => {
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^RUN .*npm ci --omit=dev/m);
    // The context keeps the builder's modes (policy.wasm comes out of opa's tar as 0600): user 65532 must read it all.
    expect(dockerfile).toMatch(/^RUN chmod -R a\+rX,go-w \/app$/m);
    expect(dockerfile).toMatch(/^COPY --from=deps \/app \.\/$/m);
    const user = /^USER (\d+)(?::(\d+))?$/m.exec(dockerfile);
    expect(user, 'a numeric USER line').not.toBeNull();
    expect(Number(user![1])).toBeGreaterThan(0);
  });

  it('the pods run the bundles make dist writes, which the build context lets through (source maps left out)', () => {
    const ignore = readFileSync(path.join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    expect(ignore).toEqual(expect.arrayContaining(['!build/dist/', 'build/dist/*.map']));
    for (const component of ['operator', 'authorizer'] as const) {
      const command = shippedContainer(component).command ?? [];
      expect(command[0], `${component}'s command in config/`).toBe('node');
      expect(command.at(-1), `${component}'s command in config/`).toBe(`build/dist/${component}.mjs`);
      // Between them only node/V8 flags (the authorizer's heap growth, see config/authorizer).
      expect(command.slice(1, -1).every((f) => /^--[a-z0-9-]+(=\S+)?$/.test(f)), `${component}'s flags ${JSON.stringify(command.slice(1, -1))}`).toBe(true);
      expect(bundles[`${component}.mjs`], `hack/dist.ts bundles ${component}.mjs`).toBe(`cmd/${component}/main.ts`);
    }
    // The image's default command is the authorizer's, flags included.
    const cmd = `CMD [${(shippedContainer('authorizer').command ?? []).map((a) => JSON.stringify(a)).join(', ')}]`;
    expect(readFileSync(path.join(root, 'Dockerfile'), 'utf8').split('\n')).toContain(cmd);
    // A library the pods preload must be in the image: the dynamic loader ignores a missing
    // LD_PRELOAD with a warning, and the pod would run on glibc's malloc unnoticed.
    const providedBy: Record<string, string> = { '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2': 'libjemalloc2' };
    const packages = /^packages=(\S+)$/m.exec(readFileSync(path.join(root, 'hack/image/build.sh'), 'utf8'))?.[1]?.split(',') ?? [];
    for (const component of ['operator', 'authorizer'] as const) {
      const preload = shippedEnv(component, 'LD_PRELOAD');
      if (preload === undefined) continue;
      expect(providedBy[preload], `${component} preloads ${preload}: name the Debian package that provides it here`).toBeDefined();
      expect(packages, `hack/image/build.sh installs what ${component} preloads`).toContain(providedBy[preload]);
    }
    // What the bundles leave to node_modules must be installed there by npm ci --omit=dev.
    for (const pattern of external) {
      const scope = pattern.replace(/\/\*$/, '/');
      const matching = Object.keys(pkg.dependencies).filter((d) => d.startsWith(scope));
      expect(matching.length, `${pattern} is a production dependency`).toBeGreaterThan(0);
    }
  });
});
