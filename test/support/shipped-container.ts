// What the shipped manifests run: the container's command and environment, read from config/
// (the chart is generated from it), so tests and benchmarks start the entry points exactly as the
// pods do — the bundle in build/dist (hack/dist.ts), not the sources.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('../../', import.meta.url));
const manifests = { operator: 'config/manager/manager.yaml', authorizer: 'config/authorizer/authorizer.yaml' } as const;
export type Component = keyof typeof manifests;

interface Container { name: string; command?: string[]; env?: Array<{ name: string; value?: string }> }

export function shippedContainer(component: Component): Container {
  const docs = readFileSync(path.join(root, manifests[component]), 'utf8').split(/^---$/m).map((d) => parse(d) as unknown);
  for (const d of docs) {
    const containers = (d as { spec?: { template?: { spec?: { containers?: Container[] } } } } | null)?.spec?.template?.spec?.containers ?? [];
    const c = containers.find((x) => x.name === component);
    if (c) return c;
  }
  throw new Error(`${manifests[component]} has no container named ${component}`);
}

/**
 * What the container runs after `node` — its node/V8 flags, then the script (absolute, in this
 * checkout) — so a flag V8 takes only on the command line (NODE_OPTIONS refuses most) reaches
 * the tests and benchmarks as it reaches the pods. `flags` replaces the shipped flags (A/B runs).
 */
export function shippedNodeArgs(component: Component, flags?: string[]): string[] {
  const command = shippedCommand(component);
  const script = path.join(root, command.at(-1)!);
  if (!existsSync(script)) throw new Error(`${command.at(-1)} does not exist: run make dist (the ${component} container runs it)`);
  return [...(flags ?? command.slice(1, -1)), script];
}

/** The container's node/V8 flags alone, for a process that runs other code the same way (benchmarks). */
export function shippedNodeFlags(component: Component): string[] {
  return shippedCommand(component).slice(1, -1);
}

function shippedCommand(component: Component): string[] {
  const command = shippedContainer(component).command ?? [];
  if (command[0] !== 'node' || command.length < 2 || !command.slice(1, -1).every((f) => f.startsWith('--'))) {
    throw new Error(`${manifests[component]}: expected command [node, --flag..., <script>], got ${JSON.stringify(command)}`);
  }
  return command;
}

/** An env value of the container, as the pods get it. */
export function shippedEnv(component: Component, name: string): string | undefined {
  return shippedContainer(component).env?.find((e) => e.name === name)?.value;
}

/**
 * The container's environment as literal values: entries filled by the kubelet (valueFrom) or
 * naming other variables ($(POD_NAME)) are left out, for the caller to give as the pod would.
 */
export function shippedEnvLiterals(component: Component): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of shippedContainer(component).env ?? []) if (e.value !== undefined && !e.value.includes('$(')) out[e.name] = e.value;
  return out;
}
