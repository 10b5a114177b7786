package toolgate.rules_test

import data.toolgate.fixture
import data.toolgate.rules

first_rule(call) := name if {
	i := data.toolgate.rules.first with data.toolgate.compiled as fixture.compiled with input as call
	name := fixture.compiled.policies[i].name
}

ctx(overrides) := object.union(
	{"annotations": {"readOnlyHint": false, "destructiveHint": false, "secretHint": false}, "verb": "create", "labels": {"a:b"}, "server": "mail", "kind": "tool", "tool": "send", "resource": "", "prompt": "", "roles": set()},
	overrides,
)

test_first_match_by_priority if first_rule(fixture.call("send", {"to": "eve@evil.com", "body": "BEGIN PRIVATE KEY"})) == "deny-secret-out"

test_external if first_rule(fixture.call("send", {"to": "eve@evil.com"})) == "approve-external"

test_internal_by_labels_servers_and_tool_glob if first_rule(fixture.call("send", {"to": "bob@acme.com"})) == "allow-internal"

test_role_condition if {
	first_rule(object.union(fixture.call("send", {"to": "eve@evil.com"}), {"caller": {"roles": ["sre"]}})) == "sre-anything"
}

test_match_any_by_hint if first_rule(fixture.call("get_secret", {})) == "approve-sensitive"

test_match_any_by_label if first_rule(fixture.call("blast", {"recipients": [1, 2, 3]})) == "approve-destructive"

test_destructive_unknown_tool if first_rule(fixture.call("frobnicate", {})) == "approve-destructive"

# Without a hint, approve-sensitive's `any` has nothing to hold: tools and servers conditions fail.
test_match_any_none_holds if first_rule(fixture.call("run_report", {})) == "allow-read"

test_empty_when_matches_whatever_match_says if rules.matches(fixture.compiled.policies[7], ctx({}))

# The candidate list is what is evaluated: read_narrow's list leaves allow-read out.
test_candidate_list_is_honoured if not first_rule(fixture.call("read_narrow", {}))

test_holds_hint if rules.holds("destructiveHint", false, ctx({}))

test_holds_hint_mismatch if not rules.holds("destructiveHint", true, ctx({}))

test_holds_unknown_key if not rules.holds("colour", "red", ctx({}))

test_holds_verbs if {
	rules.holds("verbs", ["create", "update"], ctx({}))
	not rules.holds("verbs", ["delete"], ctx({}))
}

test_holds_labels_all if {
	rules.holds("labelsAll", ["a:b"], ctx({}))
	not rules.holds("labelsAll", ["a:b", "c:d"], ctx({}))
}

test_holds_labels_any if {
	rules.holds("labelsAny", ["c:d", "a:b"], ctx({}))
	not rules.holds("labelsAny", ["c:d"], ctx({}))
}

test_holds_servers if {
	rules.holds("servers", ["mail"], ctx({}))
	not rules.holds("servers", ["chat"], ctx({}))
}

# Globs have no delimiters: `*` crosses dots and slashes in tool names.
test_holds_tools if {
	rules.holds("tools", {"exact": ["send"]}, ctx({}))
	rules.holds("tools", {"prefix": ["files."]}, ctx({"tool": "files.read/all"}))
	not rules.holds("tools", {"prefix": ["x"], "suffix": ["x"], "contains": ["x"], "exact": ["sen"]}, ctx({}))
}

test_holds_roles if {
	rules.holds("roles", ["sre"], ctx({"roles": {"sre", "dev"}}))
	not rules.holds("roles", ["sre"], ctx({}))
}
