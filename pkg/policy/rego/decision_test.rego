package toolgate.decision_test

import data.toolgate.fixture

decide(call) := d if {
	d := data.toolgate.decision with data.toolgate.compiled as fixture.compiled with input as call
}

decide_with(compiled, call) := d if {
	d := data.toolgate.decision with data.toolgate.compiled as compiled with input as call
}

test_rule_decision_shape if {
	d := decide(fixture.call("send", {"to": "eve@evil.com"}))
	d == {
		"action": "require_approval",
		"rule": "approve-external",
		"reasons": ["matched rule \"approve-external\" (priority 10)", "c0 set scope:external"],
		"labels": ["category:communication", "scope:external"],
		"annotations": {"readOnlyHint": false, "destructiveHint": false, "idempotentHint": false, "openWorldHint": true, "secretHint": false},
		"verb": "create",
		"approvers": ["manager"],
		"quorum": 1,
		"timeout": "60m",
		"enforcement": "enforce",
		"sources": ["profile:mail", "classifiers"],
		"policy": {"namespace": "ns", "name": "p"},
	}
}

test_allow_has_no_approval_fields if {
	d := decide(fixture.call("send", {"to": "bob@acme.com"}))
	d.action == "allow"
	d.rule == "allow-internal"
	d.approvers == []
	d.quorum == 0
	d.timeout == ""
}

test_deny if {
	d := decide(fixture.call("send", {"to": "eve@evil.com", "body": "-----BEGIN PRIVATE KEY-----"}))
	d.action == "deny"
	d.rule == "deny-secret-out"
}

test_default_action if {
	# `when: {}` at priority 60 would catch it, but no candidate list includes it.
	d := decide(fixture.call("send", {}))
	d.action == "deny"
	d.rule == "toolgate:default"
	d.reasons == ["no rule matched; defaultAction is deny"]
}

test_default_action_allow if {
	d := decide_with(object.union(fixture.compiled, {"defaultAction": "allow"}), fixture.call("send", {}))
	d.action == "allow"
	d.rule == "toolgate:default"
}

test_dry_run_reports_but_allows if {
	d := decide_with(object.union(fixture.compiled, {"enforcement": "dryrun"}), fixture.call("send", {"to": "eve@evil.com"}))
	d.action == "allow"
	d.dryRunAction == "require_approval"
	d.rule == "approve-external"
	d.enforcement == "dryrun"
	d.approvers == ["manager"]
	d.reasons[0] == "dry run: enforcement would have answered require_approval"
}

test_dry_run_of_allow if {
	d := decide_with(object.union(fixture.compiled, {"enforcement": "dryrun"}), fixture.call("send", {"to": "bob@acme.com"}))
	d.action == "allow"
	d.dryRunAction == "allow"
}

test_dry_run_still_denies_invalid_input if {
	d := decide_with(object.union(fixture.compiled, {"enforcement": "dryrun"}), {"server": "mail"})
	d.action == "deny"
	d.rule == "toolgate:invalid-input"
	not d.dryRunAction
}

test_unknown_enforcement_means_enforce if {
	d := decide_with(object.union(fixture.compiled, {"enforcement": "sometimes"}), fixture.call("send", {"to": "eve@evil.com"}))
	d.action == "require_approval"
	d.enforcement == "enforce"
}

test_invalid_input if {
	d := decide({"server": "mail", "tool": "send", "arguments": "to=eve"})
	d.action == "deny"
	d.rule == "toolgate:invalid-input"
	d.reasons == ["input.arguments must be an object when present"]
	d.labels == []
}

test_no_input if {
	d := data.toolgate.decision with data.toolgate.compiled as fixture.compiled
	d.action == "deny"
	d.rule == "toolgate:invalid-input"
}

test_unknown_server if {
	d := decide({"server": "chat", "tool": "send"})
	d.action == "deny"
	d.rule == "toolgate:unknown-server"
	d.reasons == ["server \"chat\" is not governed by this policy"]
}

test_no_data if {
	d := data.toolgate.decision with input as fixture.call("send", {})
	d.action == "deny"
	d.rule == "toolgate:no-data"
	d.policy == {}
}

test_wrong_schema_version if {
	d := decide_with(object.union(fixture.compiled, {"schemaVersion": 2}), fixture.call("send", {}))
	d.rule == "toolgate:no-data"
}

test_missing_scope if {
	d := decide(object.union(fixture.call("get_secret", {}), {"caller": {"scopes": ["mail:read"]}}))
	d.action == "deny"
	d.rule == "toolgate:missing-scope"
	d.reasons == ["caller token lacks required scope(s): mail:secrets"]
}

test_role_grant if {
	d := decide(object.union(fixture.call("send", {}), {"caller": {"roles": ["analyst"]}}))
	d.action == "deny"
	d.rule == "toolgate:role-grant"
	d.reasons == ["no role of the caller grants mail/send"]
}

test_quorum_and_timeout_from_rule if {
	d := decide(fixture.call("frobnicate", {}))
	d.rule == "approve-destructive"
	d.approvers == ["admin", "ops"]
	d.quorum == 2
	d.timeout == "1h"
}

# A rule without approval fields still yields the empty defaults, never undefined fields.
test_approval_fields_absent_in_rule if {
	p := object.remove(fixture.compiled.policies[3], ["approvers", "quorum", "timeout"])
	policies := array.concat(array.slice(fixture.compiled.policies, 0, 3), array.concat([p], array.slice(fixture.compiled.policies, 4, 8)))
	d := decide_with(object.union(fixture.compiled, {"policies": policies}), fixture.call("frobnicate", {}))
	d.action == "require_approval"
	d.approvers == []
	d.quorum == 0
	d.timeout == ""
}

test_classification_entrypoint if {
	c := data.toolgate.classification with data.toolgate.compiled as fixture.compiled with input as fixture.call("get_secret", {})
	c == {
		"valid": true, "server": "mail", "kind": "tool", "tool": "get_secret", "known": true,
		"annotations": {"readOnlyHint": true, "destructiveHint": false, "idempotentHint": false, "openWorldHint": true, "secretHint": true},
		"verb": "get", "labels": [], "scopes": ["mail:read", "mail:secrets"], "sources": ["profile:mail"],
	}
}

test_classification_invalid if {
	c := data.toolgate.classification with data.toolgate.compiled as fixture.compiled with input as {"server": "mail"}
	c == {"valid": false, "errors": ["input.tool must be a non-empty string"]}
}

# Data the compiler would never write (no defaultAction) leaves every branch undefined; the
# program must still answer, and answer deny.
test_no_branch_decides_means_deny if {
	d := decide_with(object.remove(fixture.compiled, ["defaultAction"]), fixture.call("send", {}))
	d.action == "deny"
	d.rule == "toolgate:internal-error"
}
