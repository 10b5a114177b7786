# Native regex.match for regex.test.ts: one answer per (pattern, value) pair, so the same
# corpus can be asked of the wasm's RE2 and of OPA's Go regexp (opa eval) in one call each.
package toolgate

decision := [regex.match(pair[0], pair[1]) | some pair in input.pairs]
