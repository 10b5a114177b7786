// Where pins live: McpToolPin objects, through the API server, so operators see them
// (`kubectl get mcptoolpins`, `kubectl mcp tools list`) and every authorizer replica reads the
// same ones. A watch keeps a local copy, so a call is checked without a round trip and an
// acceptance reaches every replica within the watch latency.
import type { Logger } from 'pino';
import { apiVersion, type McpToolPin, type McpToolPinStatus } from '../../../api/v1alpha1/index.ts';
import { isAlreadyExists, isNotFound, type KubeClient, type ResourceRef } from '../../../pkg/kube/client.ts';
import { ResourceInformer } from '../../../pkg/kube/informer.ts';

export const toolPinResource = { group: 'toolgate.io', version: 'v1alpha1', plural: 'mcptoolpins' } as const;
const fieldManager = 'toolgate-authorizer';

export interface ToolPinStore {
  /** The pin as last seen (cache), or undefined. */
  get(namespace: string, name: string): McpToolPin | undefined;
  /** Creates the pin unless one exists; either way answers the stored one (first writer wins), and whether this call created it. */
  createIfAbsent(pin: McpToolPin): Promise<{ pin: McpToolPin; created: boolean }>;
  /** Replaces the pin's status (what the server lists now). */
  writeStatus(pin: McpToolPin, status: McpToolPinStatus): Promise<void>;
  /** The Kubernetes user this store writes as (spec.accepted.by of a first sight). */
  username(): Promise<string>;
  onChange(handler: (pin: McpToolPin) => void): void;
}

export class KubeToolPinStore implements ToolPinStore {
  readonly #client: KubeClient;
  readonly #informer: ResourceInformer<McpToolPin>;
  /** Pins this replica created or read after a conflict, until the watch delivers them. */
  readonly #written = new Map<string, McpToolPin>();
  readonly #handlers: Array<(pin: McpToolPin) => void> = [];
  #username: Promise<string> | undefined;

  constructor(o: { client: KubeClient; log: Logger }) {
    this.#client = o.client;
    this.#informer = new ResourceInformer<McpToolPin>({ resource: toolPinResource, client: o.client, log: o.log });
    this.#informer.on((type, pin) => {
      if (type === 'delete') return;
      this.#written.delete(key(pin.metadata.namespace ?? '', pin.metadata.name ?? ''));
      for (const h of this.#handlers) h(pin);
    });
  }

  async start(): Promise<void> {
    await this.#informer.start();
  }

  synced(): Promise<void> {
    return this.#informer.synced();
  }

  get isSynced(): boolean {
    return this.#informer.isSynced;
  }

  async stop(): Promise<void> {
    await this.#informer.stop();
  }

  get(namespace: string, name: string): McpToolPin | undefined {
    const k = key(namespace, name);
    const watched = this.#informer.get(k);
    const written = this.#written.get(k);
    if (!watched) return written;
    if (!written) return watched;
    // Whichever is newer: the write may be ahead of the watch, or the watch ahead of the write.
    return Number(written.metadata.resourceVersion ?? 0) > Number(watched.metadata.resourceVersion ?? 0) ? written : watched;
  }

  async createIfAbsent(pin: McpToolPin): Promise<{ pin: McpToolPin; created: boolean }> {
    const ns = pin.metadata.namespace ?? '';
    const ref: ResourceRef = { ...toolPinResource, namespace: ns };
    let stored: McpToolPin;
    let created = true;
    try {
      stored = await this.#client.create<McpToolPin>(ref, pin, fieldManager);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      created = false;
      stored = await this.#client.get<McpToolPin>({ ...ref, name: pin.metadata.name ?? '' });
    }
    this.#remember(stored);
    return { pin: stored, created };
  }

  async writeStatus(pin: McpToolPin, status: McpToolPinStatus): Promise<void> {
    const ref: ResourceRef = { ...toolPinResource, namespace: pin.metadata.namespace ?? '', name: pin.metadata.name ?? '', subresource: 'status' };
    try {
      // A merge patch replacing status as a whole; fields absent from `status` are cleared.
      const cleared: Record<string, unknown> = { state: null, listed: null, findings: null, checkedAt: null, ...status };
      this.#remember(await this.#client.mergePatch<McpToolPin>(ref, { status: cleared }, fieldManager));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  username(): Promise<string> {
    this.#username ??= this.#client.request<{ status?: { userInfo?: { username?: string } } }>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    }).then((r) => {
      const u = r.status?.userInfo?.username;
      if (!u) throw new Error('SelfSubjectReview answered no username');
      return u;
    }).catch((err: unknown) => {
      this.#username = undefined;
      throw err;
    });
    return this.#username;
  }

  onChange(handler: (pin: McpToolPin) => void): void {
    this.#handlers.push(handler);
  }

  #remember(pin: McpToolPin): void {
    this.#written.set(key(pin.metadata.namespace ?? '', pin.metadata.name ?? ''), pin);
  }
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;

/** A new pin: the definition seen first, accepted by whoever records it. */
export function firstSightPin(o: { namespace: string; name: string; policy: string; server: string; tool: string; hash: string; definition?: string; by: string; at: Date; labels: Record<string, string> }): McpToolPin {
  return {
    apiVersion, kind: 'McpToolPin',
    metadata: { name: o.name, namespace: o.namespace, labels: o.labels },
    spec: {
      policy: o.policy, server: o.server, tool: o.tool,
      accepted: { hash: o.hash, ...(o.definition !== undefined ? { definition: o.definition } : {}), by: o.by, at: o.at.toISOString(), reason: 'first sight' },
    },
  };
}
