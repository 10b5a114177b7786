package toolgate.purpose_test

import data.toolgate.fixture

decide_with(compiled, call) := d if {
	d := data.toolgate.decision with data.toolgate.compiled as compiled with input as call
}

_requiring(labels) := object.union(fixture.compiled, {"audit": {"requirePurposeFor": {"labels": labels}}})

_stated(call) := object.union(call, {"purposeStated": true})

# send to an internal address is allowed by allow-internal and carries category:communication.
test_a_required_label_without_purpose_is_denied_naming_the_meta_key if {
	d := decide_with(_requiring(["category:communication"]), fixture.call("send", {"to": "bob@acme.com"}))
	d.action == "deny"
	d.rule == "toolgate:purpose-required"
	contains(d.reasons[0], "carries category:communication")
	contains(d.reasons[0], "params._meta[\"toolgate.io/purpose\"]")
	"category:communication" in d.labels
}

test_a_stated_purpose_lets_the_rules_decide if {
	d := decide_with(_requiring(["category:communication"]), _stated(fixture.call("send", {"to": "bob@acme.com"})))
	d.action == "allow"
	d.rule == "allow-internal"
}

test_a_label_an_argument_classifier_adds_requires_it_too if {
	c := _requiring(["scope:external"])
	internal := decide_with(c, fixture.call("send", {"to": "bob@acme.com"}))
	internal.rule == "allow-internal"
	external := decide_with(c, fixture.call("send", {"to": "eve@evil.example"}))
	external.rule == "toolgate:purpose-required"
}

test_a_held_call_without_purpose_is_denied_not_held if {
	d := decide_with(_requiring(["scope:external"]), fixture.call("send", {"to": "eve@evil.example"}))
	d.action == "deny"
	d.approvers == []
}

test_a_call_the_rules_deny_keeps_its_rule if {
	d := decide_with(_requiring(["data:secret"]), fixture.call("send", {"to": "x@acme.com", "body": "BEGIN PRIVATE KEY"}))
	d.rule == "deny-secret-out"
}

test_without_the_setting_nothing_changes if {
	d := decide_with(fixture.compiled, fixture.call("send", {"to": "bob@acme.com"}))
	d.rule == "allow-internal"
}

test_dry_run_reports_it_and_allows if {
	c := object.union(_requiring(["category:communication"]), {"enforcement": "dryrun"})
	d := decide_with(c, fixture.call("send", {"to": "bob@acme.com"}))
	d.action == "allow"
	d.dryRunAction == "deny"
	d.rule == "toolgate:purpose-required"
}

test_a_purpose_flag_that_is_not_a_boolean_is_invalid if {
	d := decide_with(_requiring(["category:communication"]), object.union(fixture.call("send", {"to": "bob@acme.com"}), {"purposeStated": "yes"}))
	d.rule == "toolgate:invalid-input"
	"input.purposeStated must be a boolean when present" in d.reasons
}

test_false_is_no_purpose if {
	d := decide_with(_requiring(["category:communication"]), object.union(fixture.call("send", {"to": "bob@acme.com"}), {"purposeStated": false}))
	d.rule == "toolgate:purpose-required"
}
