// One way to check data where it arrives (a bundle's manifest and gateway config, a decision
// from the wasm, an audit line read back): a TypeBox schema, which is also the TypeScript type,
// compiled once with ajv into a checker whose error names the JSON path and what was expected
// ("data.toolgate.gateway.servers[0].name: is required"), so a broken input is refused with a
// reason a person can act on, never trusted by a cast.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Type, type Static, type TSchema } from '@sinclair/typebox';

// Strict, so a typo in a schema fails at compile time; the Kubernetes extensions of the CRD
// schemas reused here (api/v1alpha1) are annotations with nothing to check outside an API server.
const ajv = new Ajv({ strict: true, allErrors: false, verbose: true });
for (const keyword of ['x-kubernetes-validations', 'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-preserve-unknown-fields']) {
  ajv.addKeyword({ keyword });
}

/** A string restricted to the given values: one "must be one of" error, where a union gives one per member. */
export function StringEnum<const T extends readonly string[]>(values: T, options: { description?: string } = {}) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

export class ContractError extends Error {
  /** Where the first problem is, as a path under the label ("x.servers[0].name"). */
  readonly path: string;
  /** What the path must hold ("is required", "must be string, got number"). */
  readonly expected: string;
  constructor(path: string, expected: string) {
    super(`${path}: ${expected}`);
    this.name = 'ContractError';
    this.path = path;
    this.expected = expected;
  }
}

export interface Contract<T> {
  /** Used as the path's root in errors unless the caller gives its own label. */
  readonly name: string;
  readonly schema: TSchema;
  /** The value, typed; throws a ContractError for the first problem. */
  check(value: unknown, label?: string): T;
  /** The first problem as "path: expected", or undefined when the value conforms. */
  problem(value: unknown, label?: string): string | undefined;
}

const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** "/servers/0/a b" under label "x" → 'x.servers[0]["a b"]'. */
function pathOf(label: string, pointer: string, extra?: string): string {
  const segments = pointer === '' ? [] : pointer.slice(1).split('/').map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
  if (extra !== undefined) segments.push(extra);
  let path = label;
  for (const s of segments) path += /^(0|[1-9]\d*)$/.test(s) ? `[${s}]` : identifier.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`;
  return path;
}

const kindOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

function describe(e: ErrorObject, label: string): ContractError {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return new ContractError(pathOf(label, e.instancePath, String(p.missingProperty)), 'is required');
    case 'additionalProperties':
      return new ContractError(pathOf(label, e.instancePath, String(p.additionalProperty)), 'is not a known field');
    case 'enum':
      return new ContractError(pathOf(label, e.instancePath), `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(e.data) ?? kindOf(e.data)}`);
    case 'const':
      return new ContractError(pathOf(label, e.instancePath), `must be ${JSON.stringify(p.allowedValue)}, got ${JSON.stringify(e.data) ?? kindOf(e.data)}`);
    case 'type':
      return new ContractError(pathOf(label, e.instancePath), `must be ${String(p.type)}, got ${kindOf(e.data)}`);
    default:
      return new ContractError(pathOf(label, e.instancePath), e.message ?? `fails ${e.keyword}`);
  }
}

/**
 * Compiles the schema once, on first use (so importing a module that declares contracts costs
 * no code generation); the checker is cheap to call after that.
 */
export function contract<S extends TSchema>(name: string, schema: S): Contract<Static<S>> {
  let validate: ValidateFunction | undefined;
  const first = (value: unknown, label: string): ContractError | undefined => {
    validate ??= ajv.compile(schema);
    if (validate(value)) return undefined;
    return describe((validate.errors ?? [])[0] ?? { keyword: 'unknown', instancePath: '', schemaPath: '', params: {} }, label);
  };
  return {
    name,
    schema,
    check(value, label = name) {
      const err = first(value, label);
      if (err) throw err;
      return value as Static<S>;
    },
    problem(value, label = name) {
      return first(value, label)?.message;
    },
  };
}
