package toolgate.validate_test

import data.toolgate.validate

ok := {"server": "mail", "tool": "send", "arguments": {}, "annotations": {}, "caller": {"agent": "a", "roles": ["r"], "scopes": ["s"]}}

test_well_formed if count(validate.errors) == 0 with input as ok

test_minimal if count(validate.errors) == 0 with input as {"server": "mail", "tool": "send"}

test_no_input if validate.errors == {"input must be a JSON object"}

test_not_an_object if validate.errors == {"input must be a JSON object"} with input as ["mail", "send"]

test_missing_tool if validate.errors == {"input.tool must be a non-empty string"} with input as {"server": "mail"}

test_empty_tool if validate.errors == {"input.tool must be a non-empty string"} with input as {"server": "mail", "tool": ""}

test_tool_not_string if validate.errors == {"input.tool must be a non-empty string"} with input as {"server": "mail", "tool": 7}

test_missing_server if validate.errors == {"input.server must be a non-empty string"} with input as {"tool": "send"}

test_arguments_array if {
	validate.errors == {"input.arguments must be an object when present"} with input as object.union(ok, {"arguments": [1]})
}

test_arguments_string if {
	validate.errors == {"input.arguments must be an object when present"} with input as object.union(ok, {"arguments": "{}"})
}

test_arguments_null if {
	validate.errors == {"input.arguments must be an object when present"} with input as object.union(ok, {"arguments": null})
}

test_annotations_not_object if {
	validate.errors == {"input.annotations must be an object when present"} with input as object.union(ok, {"annotations": true})
}

test_caller_not_object if {
	validate.errors == {"input.caller must be an object when present"} with input as object.union(ok, {"caller": "alice"})
}

test_caller_roles_not_strings if {
	validate.errors == {"input.caller.roles must be an array of strings when present"} with input as object.union(ok, {"caller": {"roles": [1]}})
}

test_caller_scopes_not_array if {
	validate.errors == {"input.caller.scopes must be an array of strings when present"} with input as object.union(ok, {"caller": {"scopes": "a b"}})
}
