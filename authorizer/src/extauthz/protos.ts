// The gRPC service definitions, loaded from the official Envoy API protos that @grpc/grpc-js-xds
// ships (deps/envoy-api with its googleapis, xds and protoc-gen-validate dependencies) and from
// the standard grpc.health.v1 proto. The server, its tests and the benchmark client all load
// them from here, so both ends of every call speak exactly what a real Envoy speaks.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition, type GrpcObject, type ServiceClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';

const require = createRequire(import.meta.url);
const xdsRoot = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
const depsDir = path.join(xdsRoot, 'deps');

export const authorizationServiceName = 'envoy.service.auth.v3.Authorization';
export const healthServiceName = 'grpc.health.v1.Health';

/**
 * Field names stay as in the .proto (snake_case), as Envoy's documentation spells them; enums
 * travel as their names; int64 as strings; unset scalars stay absent so "not sent" is visible.
 */
export const protoLoaderOptions: Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: [
    path.join(depsDir, 'envoy-api'),
    path.join(depsDir, 'googleapis'),
    path.join(depsDir, 'xds'),
    path.join(depsDir, 'protoc-gen-validate'),
  ],
};

export interface Protos {
  authorization: ServiceDefinition;
  health: ServiceDefinition;
  /** Client constructors built from the same definitions (tests and benchmarks). */
  AuthorizationClient: ServiceClientConstructor;
  HealthClient: ServiceClientConstructor;
}

let cached: Protos | undefined;

function lookup(root: GrpcObject, name: string): ServiceClientConstructor {
  let cur: unknown = root;
  for (const part of name.split('.')) cur = (cur as Record<string, unknown> | undefined)?.[part];
  if (typeof cur !== 'function' || !('service' in cur)) throw new Error(`service ${name} not found in the loaded protos`);
  return cur as ServiceClientConstructor;
}

/** Loads (once per process) the ext_authz v3 and health service definitions. */
export function loadProtos(): Protos {
  if (cached) return cached;
  const envoy = loadPackageDefinition(loadSync('envoy/service/auth/v3/external_auth.proto', protoLoaderOptions));
  const healthProto = fileURLToPath(new URL('./proto/health.proto', import.meta.url));
  const health = loadPackageDefinition(loadSync(healthProto, { ...protoLoaderOptions, includeDirs: [] }));
  const AuthorizationClient = lookup(envoy, authorizationServiceName);
  const HealthClient = lookup(health, healthServiceName);
  cached = { authorization: AuthorizationClient.service, health: HealthClient.service, AuthorizationClient, HealthClient };
  return cached;
}
