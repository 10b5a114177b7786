# Argument classifiers: one condition on the values a field path reaches in the call's
# arguments. Paths arrive pre-parsed from the compiler: strings are object keys, numbers are
# array indexes and "*" is every element of an array.
package toolgate.args

import data.toolgate.re

# holds is true when classifier c's condition holds for these arguments.
holds(c, arguments) if _cond(c.op, c.value, values(arguments, c.path))

# values lists what the path reaches. Rego has no recursion, so the walk is unrolled to the
# depth the compiler allows (max_depth); deeper paths are rejected at compile time.
values(arguments, path) := v12 if {
	v1 := _step([arguments], path, 0)
	v2 := _step(v1, path, 1)
	v3 := _step(v2, path, 2)
	v4 := _step(v3, path, 3)
	v5 := _step(v4, path, 4)
	v6 := _step(v5, path, 5)
	v7 := _step(v6, path, 6)
	v8 := _step(v7, path, 7)
	v9 := _step(v8, path, 8)
	v10 := _step(v9, path, 9)
	v11 := _step(v10, path, 10)
	v12 := _step(v11, path, 11)
}

max_depth := 12

_step(vals, path, i) := vals if {
	count(path) <= i
} else := [c | some v in vals; some c in _children(v, path[i])]

_children(v, seg) := [v[seg]] if {
	is_string(seg)
	seg != "*"
	is_object(v)
	_ = v[seg]
} else := v if {
	seg == "*"
	is_array(v)
} else := [v[seg]] if {
	is_number(seg)
	is_array(v)
	_ = v[seg]
} else := []

# A value counts as present unless it is null; an absent key reaches no value at all.
_present(vals) if {
	some v in vals
	v != null
}

# Strings a condition can look at: the value itself, or the strings inside an array value,
# so that `to: ["a@x", "b@y"]` works without writing `to[*]`.
_strings(vals) := [s | some v in vals; some s in _as_strings(v)]

_as_strings(v) := [v] if {
	is_string(v)
} else := [s | some s in v; is_string(s)] if {
	is_array(v)
} else := []

# Scalars rendered as text for `equals`: strings as they are, numbers and booleans as JSON.
_rendered(vals) := [r | some v in vals; some x in _scalars(v); r := _render(x)]

_scalars(v) := v if is_array(v)

else := [v]

_render(x) := x if is_string(x)

_render(x) := json.marshal(x) if is_number(x)

_render(x) := json.marshal(x) if is_boolean(x)

_sized(v) if is_array(v)

_sized(v) if is_string(v)

_sized(v) if is_object(v)

_cond("contains", x, vals) if {
	some s in _strings(vals)
	contains(s, x)
}

_cond("notContains", x, vals) if {
	_present(vals)
	not _any_contains(vals, x)
}

_cond("matches", x, vals) if {
	some s in _strings(vals)
	re.match(x, s)
}

_cond("notMatches", x, vals) if {
	_present(vals)
	not _any_matches(vals, x)
}

_cond("equals", x, vals) if {
	some r in _rendered(vals)
	r == x
}

_cond("present", true, vals) if _present(vals)

_cond("present", false, vals) if not _present(vals)

_cond("greaterThan", x, vals) if {
	some v in vals
	is_number(v)
	v > x
}

_cond("lessThan", x, vals) if {
	some v in vals
	is_number(v)
	v < x
}

_cond("lengthGreaterThan", x, vals) if {
	some v in vals
	_sized(v)
	count(v) > x
}

_cond("lengthLessThan", x, vals) if {
	some v in vals
	_sized(v)
	count(v) < x
}

_any_contains(vals, x) if {
	some s in _strings(vals)
	contains(s, x)
}

_any_matches(vals, x) if {
	some s in _strings(vals)
	re.match(x, s)
}
