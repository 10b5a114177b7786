# Tool-name globs, pre-split by the compiler into exact names, prefixes, suffixes and infixes so
# the common shapes use string builtins; glob.match (no delimiters: `*` crosses any character)
# is left for the rest, because inside the wasm it compiles the pattern on every call.
package toolgate.names

matches(m, name) if name in m.exact

matches(m, name) if {
	some p in m.prefix
	startswith(name, p)
}

matches(m, name) if {
	some s in m.suffix
	endswith(name, s)
}

matches(m, name) if {
	some c in m.contains
	contains(name, c)
}

matches(m, name) if {
	some g in m.glob
	glob.match(g, null, name)
}
