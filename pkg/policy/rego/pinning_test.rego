package toolgate.pinning_test

import data.toolgate.fixture

decide_with(compiled, call) := d if {
	d := data.toolgate.decision with data.toolgate.compiled as compiled with input as call
}

changed(call) := object.union(call, {"toolChange": {"accepted": "sha256:aa", "listed": "sha256:bb"}})

test_changed_tool_denied_by_default if {
	d := decide_with(fixture.compiled, changed(fixture.call("send", {"to": "bob@acme.com"})))
	d.action == "deny"
	d.rule == "toolgate:tool-changed"
	contains(d.reasons[0], "accepted sha256:aa, listed now sha256:bb")
	contains(d.reasons[0], "kubectl mcp tools accept mail send -n ns")
}

test_changed_tool_held_when_policy_says_require_approval if {
	c := object.union(fixture.compiled, {"toolPinning": {"onChange": "require_approval", "approvers": ["security"], "quorum": 2, "timeout": "10m"}})
	d := decide_with(c, changed(fixture.call("send", {"to": "bob@acme.com"})))
	d.action == "require_approval"
	d.rule == "toolgate:tool-changed"
	d.approvers == ["security"]
	d.quorum == 2
	d.timeout == "10m"
}

test_require_approval_without_approvers_is_deny if {
	c := object.union(fixture.compiled, {"toolPinning": {"onChange": "require_approval", "approvers": [], "quorum": 1, "timeout": "10m"}})
	d := decide_with(c, changed(fixture.call("send", {"to": "bob@acme.com"})))
	d.action == "deny"
	d.rule == "toolgate:tool-changed"
}

test_unchanged_tool_decided_by_rules if {
	d := decide_with(fixture.compiled, fixture.call("send", {"to": "bob@acme.com"}))
	d.rule == "allow-internal"
}

test_tool_labels_reach_the_labels if {
	d := decide_with(fixture.compiled, object.union(fixture.call("send", {"to": "bob@acme.com"}), {"toolLabels": ["risk:poisoning"]}))
	"risk:poisoning" in d.labels
}

test_malformed_pinning_inputs_are_invalid if {
	d1 := decide_with(fixture.compiled, object.union(fixture.call("send", {}), {"toolLabels": "risk:poisoning"}))
	d1.rule == "toolgate:invalid-input"
	d2 := decide_with(fixture.compiled, object.union(fixture.call("send", {}), {"toolChange": {"accepted": 1}}))
	d2.rule == "toolgate:invalid-input"
}
