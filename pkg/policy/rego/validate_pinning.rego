# Shape checks of the inputs tool pinning adds: labels the authorizer found on the tool's own
# definition (input.toolLabels, e.g. risk:poisoning) and the change of an unaccepted definition
# (input.toolChange). Malformed, the call is denied like any malformed input.
package toolgate.validate

errors contains "input.toolLabels must be an array of strings when present" if {
	_present("toolLabels")
	not _string_array(input.toolLabels)
}

errors contains "input.toolChange must be an object with string fields accepted and listed when present" if {
	_present("toolChange")
	not _tool_change_shape(input.toolChange)
}

_tool_change_shape(c) if {
	is_object(c)
	is_string(c.accepted)
	is_string(c.listed)
}
