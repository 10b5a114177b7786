package toolgate.classify_test

import data.toolgate.fixture

test_profile_hints_and_classifier_labels if {
	r := data.toolgate.classify with data.toolgate.compiled as fixture.compiled
		with input as fixture.call("send", {"to": "eve@evil.com"})
	r.annotations == {"readOnlyHint": false, "destructiveHint": false, "idempotentHint": false, "openWorldHint": true, "secretHint": false}
	r.verb == "create"
	r.labels == {"category:communication", "scope:external"}
	r.sources == ["profile:mail", "classifiers"]
	r.classifier_reasons == ["c0 set scope:external"]
}

# The server's hints sit below the profile: a server claiming send is read-only changes nothing.
test_profile_outranks_server_hints if {
	r := data.toolgate.classify with data.toolgate.compiled as fixture.compiled
		with input as object.union(fixture.call("send", {}), {"annotations": {"readOnlyHint": true}})
	r.annotations.readOnlyHint == false
	r.sources == ["server", "profile:mail"]
}

test_unknown_tool_gets_spec_defaults if {
	r := data.toolgate.classify with data.toolgate.compiled as fixture.compiled
		with input as fixture.call("frobnicate", {})
	not r.known
	r.annotations == r.spec_defaults
	r.verb == ""
	r.labels == set()
	r.sources == []
}

test_unknown_tool_server_hints_used if {
	r := data.toolgate.classify with data.toolgate.compiled as fixture.compiled
		with input as object.union(fixture.call("frobnicate", {}), {"annotations": {"readOnlyHint": true, "openWorldHint": false, "title": "not a hint", "idempotentHint": "yes"}})
	r.annotations.readOnlyHint == true
	r.annotations.destructiveHint == false
	r.annotations.openWorldHint == false
}

test_non_boolean_hints_ignored if {
	r := data.toolgate.classify with data.toolgate.compiled as fixture.compiled
		with input as object.union(fixture.call("frobnicate", {}), {"annotations": {"readOnlyHint": true, "title": "x", "idempotentHint": "yes"}})
	r.server_hints == {"readOnlyHint": true}
}

# A lying server cannot make a delete look read-only: the pattern raises the risk.
test_pattern_overrides_safe_server_claim if {
	r := data.toolgate.classify with data.toolgate.compiled as fixture.compiled
		with input as object.union(fixture.call("delete_everything", {}), {"annotations": {"readOnlyHint": true, "destructiveHint": false}})
	r.annotations.readOnlyHint == false
	r.annotations.destructiveHint == true
	r.verb == "delete"
	r.sources == ["server", "pattern:delete"]
}

# An honest server admitting a side effect is believed over a harmless-looking name.
test_pattern_does_not_lower_server_risk if {
	r := data.toolgate.classify with data.toolgate.compiled as fixture.compiled
		with input as object.union(fixture.call("get_or_create", {}), {"annotations": {"readOnlyHint": false}})
	r.annotations.readOnlyHint == false
	r.verb == "get"
}

test_pattern_fills_silent_server if {
	r := data.toolgate.classify with data.toolgate.compiled as fixture.compiled
		with input as fixture.call("getThing", {})
	r.annotations.readOnlyHint == true
	r.annotations.destructiveHint == false
}

test_pattern_first_row_wins if {
	r := data.toolgate.classify with data.toolgate.compiled as fixture.compiled
		with input as fixture.call("read_and_delete", {})
	r.pattern.name == "delete"
	r.verb == "delete"
}

test_pattern_labels_for_unclassified if {
	r := data.toolgate.classify with data.toolgate.compiled as fixture.compiled
		with input as fixture.call("run_script", {})
	r.labels == {"category:exec"}
}

test_override_outranks_pattern if {
	r := data.toolgate.classify with data.toolgate.compiled as fixture.compiled
		with input as fixture.call("run_report", {})
	r.annotations.readOnlyHint == true
	r.annotations.destructiveHint == false
	r.verb == "list"
	r.labels == set()
	r.sources == ["override"]
}

test_pattern_supplies_missing_verb_only if {
	r := data.toolgate.classify with data.toolgate.compiled as fixture.compiled
		with input as fixture.call("remove_all", {})
	r.verb == "delete"
	r.annotations.destructiveHint == false
	r.sources == ["override", "pattern:delete"]
}

test_classifier_on_unclassified_tool if {
	r := data.toolgate.classify with data.toolgate.compiled as fixture.compiled
		with input as fixture.call("blast", {"recipients": [1, 2, 3]})
	r.labels == {"audience:bulk"}
	r.annotations.destructiveHint == true
}

test_missing_arguments_mean_empty if {
	r := data.toolgate.classify with data.toolgate.compiled as fixture.compiled
		with input as {"server": "mail", "tool": "send"}
	r.arguments == {}
	r.labels == {"category:communication"}
}

test_missing_scopes if {
	r := data.toolgate.classify with data.toolgate.compiled as fixture.compiled
		with input as object.union(fixture.call("get_secret", {}), {"caller": {"scopes": ["mail:read"]}})
	r.missing_scopes == {"mail:secrets"}
}

test_grant_denied if {
	r := data.toolgate.classify with data.toolgate.compiled as fixture.compiled
		with input as object.union(fixture.call("send", {}), {"caller": {"roles": ["analyst"]}})
	r.grant_denied
}

test_grant_allows_matching_glob if {
	r := data.toolgate.classify with data.toolgate.compiled as fixture.compiled
		with input as object.union(fixture.call("get_secret", {}), {"caller": {"roles": ["analyst"]}})
	not r.grant_denied
}

test_grant_unrestricted_role if {
	r := data.toolgate.classify with data.toolgate.compiled as fixture.compiled
		with input as object.union(fixture.call("send", {}), {"caller": {"roles": ["analyst", "admin"]}})
	not r.grant_denied
}

test_grant_no_restricted_role if {
	r := data.toolgate.classify with data.toolgate.compiled as fixture.compiled
		with input as object.union(fixture.call("send", {}), {"caller": {"roles": ["someone"]}})
	not r.grant_denied
}

test_words_of_every_casing if {
	r := data.toolgate.classify with data.toolgate.compiled as fixture.compiled
		with input as fixture.call("batchDelete_USER-files.v2XMLParser", {})
	r.words == ["batch", "delete", "user", "files", "v", "xmlp", "arser"]
}

test_suffixes_are_tried if {
	r := data.toolgate.classify with data.toolgate.compiled as fixture.compiled
		with input as fixture.call("removes_deleted_running", {})
	r.pattern.name == "delete"
}

test_word_inside_a_word_does_not_match if {
	r := data.toolgate.classify with data.toolgate.compiled as fixture.compiled
		with input as fixture.call("undelete_target", {})
	not r.pattern
	r.sources == []
}

test_screaming_case if {
	r := data.toolgate.classify with data.toolgate.compiled as fixture.compiled
		with input as fixture.call("RUN_JOB", {})
	r.pattern.name == "execute"
}
