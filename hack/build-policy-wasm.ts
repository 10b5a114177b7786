// `make policy`: compiles pkg/policy/rego to policy.wasm as tests and benches do
// (pkg/policy/engine/policy-wasm.ts), into the path given (default build/policy/policy.wasm).
import path from 'node:path';
import { buildPolicyWasm, defaultWasmPath } from '../pkg/policy/engine/policy-wasm.ts';

const out = process.argv[2] ? path.resolve(process.argv[2]) : defaultWasmPath;
console.log(`policy.wasm -> ${path.relative(process.cwd(), buildPolicyWasm(out))}`);
