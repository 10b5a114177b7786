# How the program matches a classifier's regular expression: regex.find_n, not regex.match.
# Inside the wasm, regex.match is native and compiles its RE2 again on every evaluation (the
# heap, and the builtin cache in it, are reset after each one): with the shipped secret
# detector that was ~72 % of a decision. regex.find_n is not native, so the wasm imports it
# from its host: toolgate supplies it (pkg/policy/engine/regex.ts, each pattern compiled once),
# and OPA supplies its own (Go's regexp) when it runs this Rego or the bundle's wasm.
package toolgate.re

match(pattern, value) := count(regex.find_n(pattern, value, 1)) > 0
