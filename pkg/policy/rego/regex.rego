# How the program matches a regular expression. This file is what OPA itself runs (opa test,
# opa eval, the OPA-Envoy plugin): OPA's regex.match, Go's regexp. The wasm build replaces it
# with rego-wasm/regex_host.rego, which asks the host (pkg/policy/engine/regex.ts) instead:
# the wasm's own regex.match compiles its RE2 again on every evaluation.
package toolgate.re

match(pattern, value) := regex.match(pattern, value)
