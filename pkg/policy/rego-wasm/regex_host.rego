# The wasm build's regex matching (it replaces rego/regex.rego there): toolgate.regex_match is
# a host builtin, declared in the capabilities the build passes to opa (policy-wasm.ts) and
# implemented by pkg/policy/engine/regex.ts with each pattern compiled once. opa-wasm's native
# regex.match compiles the pattern again on every evaluation, because the wasm heap and the
# builtin cache in it are reset after each one: with the shipped secret detector that was
# about 2 ms, 72 % of a decision's CPU.
package toolgate.re

match(pattern, value) := toolgate.regex_match(pattern, value)
