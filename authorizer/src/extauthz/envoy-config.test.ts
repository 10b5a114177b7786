// The example wiring in config/envoy: the plain Envoy bootstrap is checked field by field
// against the official Envoy protos (every key must be a field of its message, every enum value
// a member, every typed_config's @type a loaded message), and the Istio and Envoy Gateway
// manifests are checked for the settings the authorizer relies on (body forwarded whole, fail
// closed, the governed server named by the route or the gateway, never by the client).
import { readFileSync } from 'node:fs';
import { loadSync, type MessageTypeDefinition, type PackageDefinition } from '@grpc/proto-loader';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../../pkg/policy/engine/policy-wasm.ts';
import { protoLoaderOptions } from './protos.ts';
import { serverContextKey, serverHeader } from './request.ts';

const read = (rel: string) => readFileSync(`${repoRoot}config/envoy/${rel}`, 'utf8');
const docs = (rel: string) => parseAllDocuments(read(rel)).map((d) => d.toJS() as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any

const defs: PackageDefinition = loadSync([
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/ext_authz/v3/ext_authz.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
], protoLoaderOptions);

interface Field { name: string; label: string; type: string; typeName: string }
interface Descriptor { field: Field[]; nestedType: Array<Descriptor & { name: string; options?: { mapEntry?: boolean } }>; enumType: unknown[] }

interface EnumDescriptor { name: string; value: Array<{ name: string }> }

// proto-loader lists top-level types only; nested messages and enums live in their parent's descriptor.
const messages = new Map<string, Descriptor>();
const enums = new Map<string, EnumDescriptor>();
function index(name: string, desc: Descriptor): void {
  messages.set(name, desc);
  for (const e of desc.enumType as EnumDescriptor[]) enums.set(`${name}.${e.name}`, e);
  for (const n of desc.nestedType) index(`${name}.${n.name}`, n);
}
for (const [name, def] of Object.entries(defs)) {
  if (def.format === 'Protocol Buffer 3 DescriptorProto') index(name, (def as MessageTypeDefinition<unknown, unknown>).type as unknown as Descriptor);
  if (def.format === 'Protocol Buffer 3 EnumDescriptorProto') enums.set(name, def.type as unknown as EnumDescriptor);
}

function resolve(scope: string, typeName: string): string {
  if (typeName.startsWith('.')) return typeName.slice(1);
  for (let s = scope; s; s = s.includes('.') ? s.slice(0, s.lastIndexOf('.')) : '') {
    if (messages.has(`${s}.${typeName}`) || enums.has(`${s}.${typeName}`)) return `${s}.${typeName}`;
  }
  return typeName;
}

const scalarWrappers = new Set(['BoolValue', 'UInt32Value', 'UInt64Value', 'Int32Value', 'Int64Value', 'DoubleValue', 'FloatValue', 'StringValue', 'BytesValue'].map((n) => `google.protobuf.${n}`));

/** Problems found checking `value` as message `name` (the proto3 JSON/YAML form Envoy reads). */
function check(name: string, value: unknown, path: string, out: string[]): void {
  if (name === 'google.protobuf.Duration') return void (typeof value === 'string' && /^\d+(\.\d+)?s$/.test(value) || out.push(`${path}: not a Duration`));
  if (scalarWrappers.has(name) || name === 'google.protobuf.Struct' || name === 'google.protobuf.Value') return;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return void out.push(`${path}: expected a ${name} object`);
  let obj = value as Record<string, unknown>;
  if (name === 'google.protobuf.Any') {
    const url = String(obj['@type'] ?? '');
    const inner = url.replace(/^type\.googleapis\.com\//, '');
    if (!messages.has(inner)) return void out.push(`${path}: @type ${url} is not a loaded Envoy message`);
    obj = Object.fromEntries(Object.entries(obj).filter(([k]) => k !== '@type'));
    name = inner;
  }
  const desc = messages.get(name);
  if (!desc) return void out.push(`${path}: unknown message ${name}`);
  for (const [key, v] of Object.entries(obj)) {
    const f = desc.field.find((x) => x.name === key);
    const at = `${path}.${key}`;
    if (!f) {
      out.push(`${at}: no field "${key}" in ${name}`);
      continue;
    }
    const entry = desc.nestedType.find((n) => n.name === f.typeName && n.options?.mapEntry);
    if (entry) {
      const valueField = entry.field.find((x) => x.name === 'value')!;
      for (const [k, mv] of Object.entries(v as object)) if (valueField.type === 'TYPE_MESSAGE') check(resolve(name, valueField.typeName), mv, `${at}.${k}`, out);
      continue;
    }
    const items = f.label === 'LABEL_REPEATED' ? (Array.isArray(v) ? v : (out.push(`${at}: expected a list`), [])) : [v];
    items.forEach((item, i) => {
      const p = f.label === 'LABEL_REPEATED' ? `${at}[${i}]` : at;
      if (f.type === 'TYPE_MESSAGE') check(resolve(name, f.typeName), item, p, out);
      if (f.type === 'TYPE_ENUM') {
        const enumName = resolve(name, f.typeName);
        if (typeof item === 'string' && !enums.get(enumName)?.value.some((x) => x.name === item)) out.push(`${p}: ${item} is not a value of ${enumName}`);
      }
    });
  }
}

describe('config/envoy/envoy.yaml (plain Envoy)', () => {
  const bootstrap = parse(read('envoy.yaml')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

  it('is a valid Envoy v3 Bootstrap by the official protos', () => {
    const problems: string[] = [];
    check('envoy.config.bootstrap.v3.Bootstrap', bootstrap, 'bootstrap', problems);
    expect(problems).toEqual([]);
  });

  it('the checker itself rejects unknown fields and bad enum values', () => {
    const problems: string[] = [];
    check('envoy.extensions.filters.http.ext_authz.v3.ExtAuthz', { with_request_body: { max_bytes: 1 }, transport_api_version: 'V9' }, 'x', problems);
    // Deep inside the bootstrap, behind two Any typed_configs.
    const broken = structuredClone(bootstrap);
    broken.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.failure_mode_alow = false;
    check('envoy.config.bootstrap.v3.Bootstrap', broken, 'b', problems);
    expect(problems).toEqual([
      'x.with_request_body.max_bytes: no field "max_bytes" in envoy.extensions.filters.http.ext_authz.v3.BufferSettings',
      'x.transport_api_version: V9 is not a value of envoy.config.core.v3.ApiVersion',
      'b.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.failure_mode_alow: no field "failure_mode_alow" in envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
    ]);
  });

  it('forwards the whole body, fails closed and names the server on every MCP route', () => {
    const hcm = bootstrap.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
    const authz = hcm.http_filters.find((f: { name: string }) => f.name === 'envoy.filters.http.ext_authz').typed_config;
    expect(authz).toMatchObject({ failure_mode_allow: false, transport_api_version: 'V3', with_request_body: { allow_partial_message: false, pack_as_bytes: true } });
    expect(authz.with_request_body.max_request_bytes).toBeGreaterThan(0);
    const routes = hcm.route_config.virtual_hosts[0].routes as Array<{ match: { path?: string }; typed_per_filter_config: Record<string, any> }>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const mcp = routes.filter((r) => r.match.path?.endsWith('/mcp'));
    expect(mcp.length).toBeGreaterThan(0);
    for (const r of mcp) expect(r.typed_per_filter_config['envoy.filters.http.ext_authz'].check_settings.context_extensions[serverContextKey]).toMatch(/^[a-z]/);
  });
});

describe('config/envoy/istio', () => {
  it('registers a fail-closed gRPC provider that receives the body, used by a CUSTOM policy', () => {
    const [op] = docs('istio/mesh-config.yaml');
    const provider = op!.spec.meshConfig.extensionProviders[0];
    expect(provider.envoyExtAuthzGrpc).toMatchObject({ failOpen: false, port: 9191, includeRequestBodyInCheck: { allowPartialMessage: false, packAsBytes: true } });
    const [policy, filter] = docs('istio/authorization-policy.yaml');
    expect(policy).toMatchObject({ kind: 'AuthorizationPolicy', spec: { action: 'CUSTOM', provider: { name: provider.name } } });
    const perRoute = filter!.spec.configPatches[0].patch.value.typed_per_filter_config['envoy.filters.http.ext_authz'];
    const problems: string[] = [];
    check('google.protobuf.Any', perRoute, 'EnvoyFilter', problems);
    expect(problems).toEqual([]);
    expect(perRoute.check_settings.context_extensions[serverContextKey]).toBe('gmail');
    expect(filter!.spec.workloadSelector).toEqual(policy!.spec.selector.matchLabels ? { labels: policy!.spec.selector.matchLabels } : undefined);
  });
});

describe('config/envoy/envoy-gateway', () => {
  it('sends the body to a fail-closed gRPC ext_authz and sets the server header before any filter', () => {
    const byKind = Object.fromEntries(docs('envoy-gateway/security-policy.yaml').map((d) => [d.kind, d]));
    expect(byKind.SecurityPolicy!.spec.extAuth).toMatchObject({ failOpen: false, grpc: { backendRefs: [{ name: 'toolgate-authorizer', port: 9191 }] } });
    expect(byKind.SecurityPolicy!.spec.extAuth.bodyToExtAuth.maxRequestBytes).toBeGreaterThan(0);
    expect(byKind.SecurityPolicy!.spec.targetRefs[0]).toMatchObject({ kind: 'HTTPRoute', name: byKind.HTTPRoute!.metadata.name });
    const early = byKind.ClientTrafficPolicy!.spec.headers.earlyRequestHeaders.set[0];
    expect(early).toEqual({ name: serverHeader, value: 'gmail' });
    const [gateway] = docs('envoy-gateway/gateway.yaml');
    const section = byKind.ClientTrafficPolicy!.spec.targetRefs[0].sectionName;
    expect(gateway!.spec.listeners.map((l: { name: string }) => l.name)).toContain(section);
    expect(byKind.HTTPRoute!.spec.parentRefs[0].sectionName).toBe(section);
  });
});
