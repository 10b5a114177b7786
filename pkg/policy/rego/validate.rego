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

# The operation kind: absent means a tools/call (the only kind before resources, prompts and
# logging were governed), so inputs built by older front ends keep their meaning.
kinds := {"tool", "resource", "prompt", "logging"}

kind := object.get(input, "kind", "tool") if _input_is_object

errors contains "input.kind must be one of tool, resource, prompt, logging when present" if {
	_present("kind")
	not input.kind in kinds
}

# Each kind names its target in its own field, so a rule on tool names can never be matched by
# a URI or a prompt name, nor the other way round.
_target := {"tool": "tool", "resource": "resource", "prompt": "prompt"}

errors contains concat("", ["input.", f, " must be a non-empty string"]) if {
	f := _target[kind]
	not _nonempty_string(object.get(input, f, null))
}

errors contains concat("", ["input.", f, " must be absent for input.kind ", kind]) if {
	kind in kinds
	some f in ["tool", "resource", "prompt"]
	f != object.get(_target, kind, "")
	_present(f)
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

errors contains "input.purposeStated must be a boolean when present" if {
	_present("purposeStated")
	not is_boolean(input.purposeStated)
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
