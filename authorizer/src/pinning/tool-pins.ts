// Pin on first sight, detect change, label poisoning: what the catalog and the decision path ask
// about each listed tool.
//
// observe() runs on every tools/list the catalog fetches (before the list is used): a tool seen
// for the first time is pinned (an McpToolPin, created if absent — replicas racing agree on the
// first stored); one listed with another definition than the accepted is recorded in the pin's
// status (Changed, with the new definition for `kubectl mcp tools diff`). check() answers, without
// I/O, what a call or a listing of the tool carries: its labels (risk:poisoning) and, when its
// definition is not the accepted one, the change, which the policy turns into deny or
// require_approval (toolgate:tool-changed). With pinning on, a tool no pin is known for yet is
// unavailable (refused, fail closed): the definition a call would run under was never recorded.
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { toolPinName, toolPinPolicyLabel, toolPinServerLabel, type McpToolPin, type McpToolPinStatus } from '../../../api/v1alpha1/index.ts';
import { canonicalJson } from '../../../pkg/json/canonical.ts';
import type { CatalogTool } from '../gate/catalog.ts';
import type { GatewayConfig } from '../gate/types.ts';
import { storableDefinition, toolDefinition, type ToolDefinition } from './definition.ts';
import { poisoningFindings, poisoningLabel, type PoisoningFinding } from './poisoning.ts';
import { firstSightPin, type ToolPinStore } from './store.ts';

export type PinCheck =
  /** The listed definition is the accepted one (or the policy does not pin). */
  | { kind: 'accepted'; labels: string[] }
  | { kind: 'changed'; labels: string[]; accepted: string; listed: string }
  | { kind: 'unavailable'; reason: string };

interface Inspected { definition: ToolDefinition; findings: PoisoningFinding[]; labels: string[] }
/** One listing of one tool, and when it was taken: a listing older than the one held never replaces it. */
interface Sighting { inspected: Inspected; tool: string; at: number }

export interface ToolPinsOptions {
  /** Absent: nothing can be pinned, so every tool of a policy that pins is unavailable. */
  store?: ToolPinStore;
  log: Logger;
  registry?: Registry;
  now?: () => Date;
}

export class ToolPins {
  readonly #o: ToolPinsOptions;
  readonly #inspected = new WeakMap<object, Inspected>();
  readonly #changes: Counter<'server' | 'tool'> | undefined;
  /** Per pin, the newest listing seen (catalog fetch or a front end's listing): what check() compares. */
  readonly #lastListed = new Map<string, Sighting>();

  constructor(o: ToolPinsOptions) {
    this.#o = o;
    this.#changes = o.registry
      ? new Counter({ name: 'toolgate_authorizer_tool_definition_changes_total', help: 'Listings of a governed tool whose definition differs from its accepted pin, by server and tool.', labelNames: ['server', 'tool'] as const, registers: [o.registry] })
      : undefined;
    o.store?.onChange((pin) => this.#settle(pin));
  }

  /**
   * Records first sights and changes of one server's listing, taken at `listedAt` (when the
   * fetch started). Rejects when the store cannot be written: the listing must not be used unpinned.
   */
  async observe(gateway: GatewayConfig, server: string, tools: readonly CatalogTool[], listedAt: Date = this.#now()): Promise<void> {
    if (!gateway.toolPinning) return;
    const store = this.#o.store;
    if (!store) throw new Error('tool pinning is on, but this authorizer has no Kubernetes client to record pins');
    const { namespace, name: policy } = gateway.policy;
    const by = await store.username();
    await Promise.all(tools.map(async (t) => {
      const seen = this.inspect(t);
      const name = toolPinName(policy, server, t.name);
      const sighting = { inspected: seen, tool: t.name, at: listedAt.getTime() };
      if (!this.#sight(`${namespace}/${name}`, sighting)) return;
      let pin = store.get(namespace, name);
      if (!pin) {
        const definition = storableDefinition(seen.definition);
        const stored = await store.createIfAbsent(firstSightPin({
          namespace, name, policy, server, tool: t.name, hash: seen.definition.hash, ...(definition !== undefined ? { definition } : {}),
          by, at: this.#now(), labels: { [toolPinServerLabel]: server, ...(policy.length <= 63 ? { [toolPinPolicyLabel]: policy } : {}) },
        }));
        pin = stored.pin;
        if (stored.created) this.#o.log.info({ server, tool: t.name, hash: seen.definition.hash, pin: name, namespace }, 'tool definition pinned on first sight');
      }
      await this.#writeStatus(pin, server, sighting);
    }));
  }

  /**
   * Records tools a front end saw the server list (the proxy's own tools/list) without waiting:
   * a changed definition seen there stops calls at once, before the catalog's next refetch.
   * Tools never pinned are left to the catalog, which pins what it lists.
   */
  sighted(gateway: GatewayConfig | undefined, server: string, tools: readonly CatalogTool[]): void {
    if (!gateway?.toolPinning || !this.#o.store) return;
    const { namespace, name: policy } = gateway.policy;
    for (const t of tools) {
      const name = toolPinName(policy, server, t.name);
      const pin = this.#o.store.get(namespace, name);
      if (!pin) continue;
      const seen = this.inspect(t);
      const key = `${namespace}/${name}`;
      if (this.#lastListed.get(key)?.inspected.definition.hash === seen.definition.hash) continue;
      const sighting = { inspected: seen, tool: t.name, at: this.#now().getTime() };
      if (!this.#sight(key, sighting)) continue;
      this.#writeStatus(pin, server, sighting).catch((err: unknown) => {
        this.#o.log.warn({ server, tool: t.name, err: (err as Error).message }, 'tool pin status not written');
      });
    }
  }

  /**
   * What a call to (or a listing of) this tool carries, for the policy of `gateway`. The
   * definition compared is the one last seen listed anywhere (the catalog's fetch or a front
   * end's listing), so a change seen by either stops calls decided on the other's copy.
   */
  check(gateway: GatewayConfig | undefined, server: string, tool: CatalogTool): PinCheck {
    const own = this.inspect(tool);
    if (!gateway?.toolPinning) return { kind: 'accepted', labels: own.labels };
    const { namespace, name: policy } = gateway.policy;
    const name = toolPinName(policy, server, tool.name);
    const pin = this.#o.store?.get(namespace, name);
    if (!pin) return { kind: 'unavailable', reason: `the definition of tool "${tool.name}" of server "${server}" is not pinned yet (McpToolPin ${name} in ${namespace})` };
    const latest = this.#lastListed.get(`${namespace}/${name}`)?.inspected ?? own;
    const labels = [...new Set([...own.labels, ...latest.labels])];
    for (const seen of [own, latest]) {
      if (seen.definition.hash !== pin.spec.accepted.hash) return { kind: 'changed', labels, accepted: pin.spec.accepted.hash, listed: seen.definition.hash };
    }
    return { kind: 'accepted', labels };
  }

  /** The hash, poisoning findings and labels of a listed tool (computed once per listing object). */
  inspect(tool: CatalogTool): Inspected {
    let seen = this.#inspected.get(tool);
    if (!seen) {
      const findings = poisoningFindings(tool);
      seen = { definition: toolDefinition(tool), findings, labels: findings.length > 0 ? [poisoningLabel] : [] };
      this.#inspected.set(tool, seen);
    }
    return seen;
  }

  /** Keeps the newer of two listings of one pin; false when `s` is older than the one held. */
  #sight(key: string, s: Sighting): boolean {
    const held = this.#lastListed.get(key);
    if (held && held.at > s.at) return false;
    this.#lastListed.set(key, s);
    return true;
  }

  async #writeStatus(pin: McpToolPin, server: string, sighting: Sighting): Promise<void> {
    const store = this.#o.store!;
    const { inspected: seen, tool } = sighting;
    const have = pin.status;
    // Another replica recorded a newer listing: an older one must not undo it.
    if (have?.checkedAt && Date.parse(have.checkedAt) > sighting.at) {
      this.#o.log.debug({ server, tool: sighting.tool, checkedAt: have.checkedAt, listedAt: new Date(sighting.at).toISOString() }, 'tool pin status holds a newer listing; not overwritten');
      return;
    }
    const changed = pin.spec.accepted.hash !== seen.definition.hash;
    const findings = seen.findings.slice(0, 32);
    const checkedAt = new Date(sighting.at).toISOString();
    const want: McpToolPinStatus = changed
      ? { state: 'Changed', listed: { hash: seen.definition.hash, ...optionalDefinition(seen), seenAt: checkedAt }, ...(findings.length ? { findings } : {}), checkedAt }
      : { state: 'Accepted', ...(findings.length ? { findings } : {}), checkedAt };
    const same = have?.state === want.state && have?.listed?.hash === want.listed?.hash && canonicalJson(have?.findings ?? []) === canonicalJson(want.findings ?? []);
    if (changed && (!same || !have?.listed)) {
      this.#changes?.inc({ server, tool });
      this.#o.log.warn({ server, tool, accepted: pin.spec.accepted.hash, listed: seen.definition.hash, pin: pin.metadata.name, namespace: pin.metadata.namespace }, 'tool definition changed since it was accepted; calls get the policy\'s toolPinning.onChange until it is accepted');
    }
    if (seen.findings.length > 0 && !same) this.#o.log.warn({ server, tool, findings }, `tool definition carries poisoning patterns; labelled ${poisoningLabel}`);
    if (same) return;
    await store.writeStatus(pin, want);
    this.#o.log.debug({ server, tool, state: want.state, listed: want.listed?.hash, checkedAt }, 'tool pin status written');
  }

  /**
   * An acceptance arrived: when it accepts exactly what the status says is listed, the status
   * says Accepted again. Only then — a status update alone (another replica's newer listing)
   * must never be answered with this replica's older view.
   */
  #settle(pin: McpToolPin): void {
    const st = pin.status;
    if (st?.state !== 'Changed' || st.listed?.hash !== pin.spec.accepted.hash) return;
    const settled: McpToolPinStatus = { state: 'Accepted', ...(st.findings?.length ? { findings: st.findings } : {}), ...(st.checkedAt ? { checkedAt: st.checkedAt } : {}) };
    this.#o.store!.writeStatus(pin, settled).catch((err: unknown) => {
      this.#o.log.warn({ pin: pin.metadata.name, err: (err as Error).message }, 'tool pin status not updated after acceptance');
    });
  }

  #now(): Date {
    return this.#o.now?.() ?? new Date();
  }
}

function optionalDefinition(seen: Inspected): { definition?: string } {
  const d = storableDefinition(seen.definition);
  return d !== undefined ? { definition: d } : {};
}
