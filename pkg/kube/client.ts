// A small JSON REST client over the API server, authenticated by @kubernetes/client-node's
// KubeConfig. We talk REST directly rather than through the generated typed clients because
// their serializer rewrites some fields (MicroTime in Leases and Events loses precision) and
// makes server-side apply on subresources awkward; every call here is one explicit request.
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';

export class KubeError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: unknown;
  constructor(code: number, reason: string, message: string, details?: unknown) {
    super(message);
    this.name = 'KubeError';
    this.code = code;
    this.reason = reason;
    this.details = details;
  }
}

export const isNotFound = (e: unknown) => e instanceof KubeError && e.code === 404;
export const isConflict = (e: unknown) => e instanceof KubeError && e.code === 409;
export const isAlreadyExists = (e: unknown) => e instanceof KubeError && e.code === 409 && e.reason === 'AlreadyExists';

export interface ResourceRef {
  group: string; // '' for the core group
  version: string;
  plural: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

export function resourcePath(r: ResourceRef): string {
  const base = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  const ns = r.namespace ? `/namespaces/${encodeURIComponent(r.namespace)}` : '';
  const name = r.name ? `/${encodeURIComponent(r.name)}` : '';
  const sub = r.subresource ? `/${r.subresource}` : '';
  return `${base}${ns}/${r.plural}${name}${sub}`;
}

export interface RequestOpts {
  body?: unknown;
  contentType?: string;
  query?: Record<string, string | number | boolean | undefined>;
  timeoutMs?: number;
}

export class KubeClient {
  readonly kubeConfig: KubeConfig;
  private readonly server: URL;

  constructor(kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster: set a current-context or KUBECONFIG');
    this.kubeConfig = kc;
    this.server = new URL(cluster.server);
  }

  async request<T>(method: string, path: string, opts: RequestOpts = {}): Promise<T> {
    const url = new URL(path, this.server);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const options: RequestOptions = {
      method,
      hostname: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      headers: { accept: 'application/json' },
      timeout: opts.timeoutMs ?? 30_000,
    };
    await this.kubeConfig.applyToHTTPSOptions(options);
    const headers = options.headers as Record<string, string | number>;
    if (payload) {
      headers['content-type'] = opts.contentType ?? 'application/json';
      headers['content-length'] = payload.length;
    }
    const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
    return await new Promise<T>((resolve, reject) => {
      const req = send(options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          let parsed: unknown;
          try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = undefined; }
          if (status >= 200 && status < 300) {
            resolve(parsed as T);
            return;
          }
          const s = (parsed ?? {}) as { reason?: string; message?: string; details?: unknown };
          reject(new KubeError(status, s.reason ?? 'Unknown', s.message ?? `${method} ${url.pathname}: HTTP ${status}`, s.details));
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname}: timed out`)));
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  }

  get<T>(r: ResourceRef): Promise<T> {
    return this.request<T>('GET', resourcePath(r));
  }

  list<T>(r: ResourceRef, query?: RequestOpts['query']): Promise<{ metadata: { resourceVersion?: string }; items: T[] }> {
    return this.request('GET', resourcePath(r), { query });
  }

  create<T>(r: ResourceRef, body: unknown, fieldManager?: string): Promise<T> {
    return this.request<T>('POST', resourcePath(r), { body, query: { fieldManager } });
  }

  replace<T>(r: ResourceRef, body: unknown, fieldManager?: string): Promise<T> {
    return this.request<T>('PUT', resourcePath(r), { body, query: { fieldManager } });
  }

  mergePatch<T>(r: ResourceRef, body: unknown, fieldManager?: string): Promise<T> {
    return this.request<T>('PATCH', resourcePath(r), { body, contentType: 'application/merge-patch+json', query: { fieldManager } });
  }

  /** Server-side apply: the object states only the fields this manager owns. */
  apply<T>(r: ResourceRef, body: unknown, fieldManager: string, force = true): Promise<T> {
    return this.request<T>('PATCH', resourcePath(r), {
      body,
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager, force },
    });
  }

  delete(r: ResourceRef): Promise<unknown> {
    return this.request('DELETE', resourcePath(r));
  }
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits, as the API server demands. */
export function microTime(d: Date = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** The kubeconfig of the environment: in-cluster service account, else $KUBECONFIG or ~/.kube/config. */
export function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}
