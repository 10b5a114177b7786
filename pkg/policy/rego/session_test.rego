package toolgate.session_test

import data.toolgate.fixture

_rule(extra) := object.union({"priority": 0, "kinds": ["tool"], "match": "all", "approvers": [], "quorum": 0, "timeout": ""}, extra)

session_cfg := {
	"limits": [_rule({
		"name": "burst", "when": {"tools": {"exact": ["run_report"]}}, "action": "deny",
		"per": "session", "perTool": true, "max": 2, "window": "10s", "windowMs": 10000,
	})],
	"flows": [
		_rule({"name": "internal-stays-in", "from": ["scope:internal"], "when": {"verbs": ["create"]}, "action": "deny"}),
		_rule({
			"name": "review-after-mail", "from": ["category:communication"], "when": {"readOnlyHint": true},
			"action": "require_approval", "approvers": ["privacy"], "quorum": 1, "timeout": "15m",
		}),
	],
	"sources": ["category:communication", "scope:internal"],
	"taintTtlMs": 86400000,
}

compiled := object.union(fixture.compiled, {"session": session_cfg})

decide(call, session) := d if {
	d := data.toolgate.decision with data.toolgate.compiled as compiled with input as object.union(call, {"session": session})
}

entry(label, at) := {"label": label, "server": "mail", "target": "get_secret", "at": at, "decisionId": "d1"}

test_below_limit_allowed_and_counted if {
	d := decide(fixture.call("run_report", {}), {"counts": {"burst": 1}, "taint": []})
	d.action == "allow"
	d.rule == "allow-read"
	d.session == {"counted": ["burst"], "taints": [], "sink": true}
}

test_at_limit_denied_with_the_limit if {
	d := decide(fixture.call("run_report", {}), {"counts": {"burst": 2}, "taint": []})
	d.action == "deny"
	d.rule == "burst"
	d.reasons[0] == "velocity limit \"burst\": 2 matching call(s) in the last 10s per session and tool (max 2); it denies further calls"
	d.session.constraint.kind == "limit"
	d.session.constraint.windowMs == 10000
}

test_counts_that_are_not_numbers_count_as_zero if {
	d := decide(fixture.call("run_report", {}), {"counts": {"burst": "9"}})
	d.action == "allow"
}

test_untainted_sink_allowed_and_reports_its_taint if {
	d := decide(fixture.call("send", {"to": "bob@acme.com"}), {"taint": []})
	d.action == "allow"
	d.rule == "allow-internal"
	d.session.taints == ["category:communication", "scope:internal"]
	d.session.sink == true
}

test_tainted_sink_denied_naming_what_was_read if {
	d := decide(fixture.call("send", {"to": "bob@acme.com"}), {"taint": [entry("scope:internal", "2026-12-02T03:00:00Z")]})
	d.action == "deny"
	d.rule == "internal-stays-in"
	d.reasons[0] == "session read scope:internal via mail.get_secret at 2026-12-02T03:00:00Z; flow rule \"internal-stays-in\" denies this call"
	d.session.constraint.label == "scope:internal"
}

test_earliest_tainting_call_is_named if {
	d := decide(fixture.call("send", {"to": "bob@acme.com"}), {"taint": [entry("scope:internal", "2026-12-02T03:00:05Z"), entry("scope:internal", "2026-12-02T03:00:01Z")]})
	d.session.constraint.at == "2026-12-02T03:00:01Z"
}

test_flow_approval_tightens_an_allow if {
	d := decide(fixture.call("run_report", {}), {"taint": [entry("category:communication", "2026-12-02T03:00:00Z")]})
	d.action == "require_approval"
	d.rule == "review-after-mail"
	d.approvers == ["privacy"]
	d.timeout == "15m"
}

test_session_deny_overrides_a_rule_hold if {
	d := decide(fixture.call("send", {"to": "eve@evil.com", "cc": "x"}), {"taint": [entry("scope:internal", "2026-12-02T03:00:00Z")]})
	d.action == "deny"
	d.rule == "internal-stays-in"
	d.approvers == []
}

test_session_hold_leaves_a_rule_hold_alone if {
	d := decide(fixture.call("send", {"to": "eve@evil.com"}), {"taint": [entry("category:communication", "2026-12-02T03:00:00Z")]})
	d.action == "require_approval"
	d.rule == "approve-external"
}

test_rule_deny_stays_deny if {
	d := decide(fixture.call("send", {"to": "eve@evil.com", "body": "BEGIN PRIVATE KEY"}), {"counts": {}, "taint": [entry("scope:internal", "2026-12-02T03:00:00Z")]})
	d.action == "deny"
	d.rule == "deny-secret-out"
}

test_dry_run_reports_the_session_deny if {
	dry := object.union(compiled, {"enforcement": "dryrun"})
	d := data.toolgate.decision with data.toolgate.compiled as dry with input as object.union(fixture.call("run_report", {}), {"session": {"counts": {"burst": 5}}})
	d.action == "allow"
	d.dryRunAction == "deny"
	d.rule == "burst"
}

test_no_session_policy_no_session_field if {
	d := data.toolgate.decision with data.toolgate.compiled as fixture.compiled with input as object.union(fixture.call("run_report", {}), {"session": {"counts": {"burst": 5}}})
	d.action == "allow"
	not d.session
}

# "The first use of a destructive tool in a session needs approval": a firstUse limit holds the
# first matching call of its window and lets the next ones through once one was let through.
_first_use := object.union(compiled, {"session": object.union(session_cfg, {"limits": [_rule({
	"name": "first-destructive", "when": {"tools": {"exact": ["run_report"]}}, "action": "require_approval",
	"approvers": ["ops"], "quorum": 1, "timeout": "15m",
	"per": "session", "perTool": true, "max": 0, "firstUse": true, "window": "24h", "windowMs": 86400000,
})]})})

test_first_use_needs_approval_then_passes if {
	first := data.toolgate.decision with data.toolgate.compiled as _first_use
		with input as object.union(fixture.call("run_report", {}), {"session": {"counts": {}, "taint": []}})
	first.action == "require_approval"
	first.rule == "first-destructive"
	first.approvers == ["ops"]
	first.reasons[0] == "velocity limit \"first-destructive\": first matching call in the last 24h per session and tool; it requires approval for the first use"
	later := data.toolgate.decision with data.toolgate.compiled as _first_use
		with input as object.union(fixture.call("run_report", {}), {"session": {"counts": {"first-destructive": 1}, "taint": []}})
	later.action == "allow"
	later.rule == "allow-read"
}
