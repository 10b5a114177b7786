# Shape checks on the input document. Anything that fails here is denied before classification,
# so the other packages may assume well-typed fields.
package toolgate.validate

# Arguments to a function under `not` are evaluated outside the negation, so an absent field
# would make the whole check undefined instead of failing it; object.get supplies a null.

# errors is the set of reasons the input cannot be decided on; empty means well-formed.
errors contains "input must be a JSON object" if not _input_is_object

# A rule with a default, because `not is_object(input)` is undefined, not true, when there is
# no input at all.
default _input_is_object := false

_input_is_object if is_object(input)

errors contains "input.server must be a non-empty string" if {
	_input_is_object
	not _nonempty_string(object.get(input, "server", null))
}

errors contains "input.tool must be a non-empty string" if {
	_input_is_object
	not _nonempty_string(object.get(input, "tool", null))
}

# MCP lets a tools/call omit arguments; when present they must be an object, because
# classifiers address them by key and a scalar or array would make every path miss silently.
errors contains "input.arguments must be an object when present" if {
	_present("arguments")
	not is_object(input.arguments)
}

errors contains "input.annotations must be an object when present" if {
	_present("annotations")
	not is_object(input.annotations)
}

errors contains "input.caller must be an object when present" if {
	_present("caller")
	not is_object(input.caller)
}

errors contains concat("", ["input.caller.", k, " must be an array of strings when present"]) if {
	is_object(input.caller)
	some k in ["roles", "scopes"]
	_ = input.caller[k]
	not _string_array(input.caller[k])
}

_present(k) if {
	_input_is_object
	_ = input[k]
}

_nonempty_string(s) if {
	is_string(s)
	s != ""
}

_string_array(a) if {
	is_array(a)
	every x in a {
		is_string(x)
	}
}
