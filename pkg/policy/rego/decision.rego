# The one toolgate decision program. Deployments change data.toolgate.compiled (compiled
# from an McpSecurityPolicy by the operator), never this program. See CONTRACT.md.
package toolgate

import data.toolgate.classify
import data.toolgate.pinning
import data.toolgate.purpose
import data.toolgate.rules
import data.toolgate.session
import data.toolgate.validate

cfg := data.toolgate.compiled

# The data layout this program understands; the compiler writes the same number.
schema_version := 1

_enforcement := cfg.enforcement if cfg.enforcement in {"enforce", "dryrun"}

else := "enforce"

# Reached only if every branch below is undefined, which would be a bug in this program;
# it still answers deny so that a bug can never allow a call.
default decision := {
	"action": "deny",
	"rule": "toolgate:internal-error",
	"reasons": ["the policy program reached no decision"],
	"labels": [],
	"annotations": {},
	"verb": "",
	"approvers": [],
	"quorum": 0,
	"timeout": "",
	"enforcement": "enforce",
	"sources": [],
}

# Unusable data or input is denied even in dry run: such a call cannot be classified or
# routed, so there is nothing meaningful to let through.
decision := _hard if {
	_hard
} else := _dry_run(_with_session) if {
	_enforcement == "dryrun"
} else := _with_session

_hard := _unclassified("toolgate:no-data", ["no compiled policy data of schemaVersion 1 at data.toolgate.compiled"]) if {
	not cfg.schemaVersion == schema_version
} else := _unclassified("toolgate:invalid-input", sort(validate.errors)) if {
	count(validate.errors) > 0
} else := _unclassified("toolgate:unknown-server", [concat("", ["server \"", input.server, "\" is not governed by this policy"])]) if {
	not classify.server
}

_soft := _classified("deny", "toolgate:role-grant", [concat("", ["no role of the caller grants ", classify.subject])], {}) if {
	classify.grant_denied
} else := _classified("deny", "toolgate:missing-scope", [concat("", ["caller token lacks required scope(s): ", concat(", ", sort(classify.missing_scopes))])], {}) if {
	count(classify.missing_scopes) > 0
} else := _classified(pinning.action, "toolgate:tool-changed", [pinning.reason], pinning.settings) if {
	pinning.changed
} else := _from_rule(cfg.policies[rules.first]) if {
	_ = rules.first
} else := _classified(cfg.defaultAction, "toolgate:default", [concat("", ["no rule matched; defaultAction is ", cfg.defaultAction])], {})

# A call the rules would let through or hold is denied when it must state a purpose and does
# not (purpose.rego); a call the rules deny keeps its own rule, so the record says why.
_gated := _classified("deny", "toolgate:purpose-required", [purpose.reason], {}) if {
	_soft.action != "deny"
	purpose.missing
} else := _soft

# Session state (session.rego) only tightens: a denied call stays denied whatever it says; a
# session deny overrides an allow or a hold; a session hold turns an allow into a hold.
_with_session := _gated if {
	not cfg.session
} else := object.union(_gated, {"session": session.summary}) if {
	_gated.action == "deny"
} else := object.union(_constrained(session.constraint), {"session": session.summary}) if {
	_tightens(session.constraint)
} else := object.union(_gated, {"session": session.summary})

_tightens(c) if c.action == "deny"

_tightens(c) if {
	c.action == "require_approval"
	_gated.action == "allow"
}

_constrained(c) := object.union(_gated, {
	"action": c.action,
	"rule": c.name,
	"reasons": array.concat([c.reason], classify.classifier_reasons),
	"approvers": c.approvers,
	"quorum": c.quorum,
	"timeout": c.timeout,
})

_from_rule(p) := _classified(p.action, p.name, [concat("", ["matched rule \"", p.name, "\" (priority ", format_int(p.priority, 10), ")"])], p)

_classified(action, rule, reasons, p) := {
	"action": action,
	"rule": rule,
	"reasons": array.concat(reasons, classify.classifier_reasons),
	"labels": sort(classify.labels),
	"annotations": classify.annotations,
	"verb": classify.verb,
	"approvers": _approvers(action, p),
	"quorum": _quorum(action, p),
	"timeout": _timeout(action, p),
	"enforcement": _enforcement,
	"sources": classify.sources,
	"policy": _policy_ref,
}

_unclassified(rule, reasons) := {
	"action": "deny",
	"rule": rule,
	"reasons": reasons,
	"labels": [],
	"annotations": {},
	"verb": "",
	"approvers": [],
	"quorum": 0,
	"timeout": "",
	"enforcement": _enforcement,
	"sources": [],
	"policy": _policy_ref,
}

_policy_ref := cfg.policy if cfg.policy

else := {}

# Approval parameters only mean something for require_approval.
_approvers(action, p) := p.approvers if {
	action == "require_approval"
	p.approvers
} else := []

_quorum(action, p) := p.quorum if {
	action == "require_approval"
	p.quorum
} else := 0

_timeout(action, p) := p.timeout if {
	action == "require_approval"
	p.timeout
} else := ""

# Dry run decides and reports but never blocks.
_dry_run(d) := object.union(d, {
	"action": "allow",
	"dryRunAction": d.action,
	"reasons": array.concat([concat("", ["dry run: enforcement would have answered ", d.action])], d.reasons),
})

# The classification alone, for tools/list filtering and audit; no rule is evaluated.
classification := {"valid": false, "errors": _class_errors} if {
	count(_class_errors) > 0
} else := {
	"valid": true,
	"server": input.server,
	"kind": classify.kind,
	"tool": object.get(input, "tool", ""),
	"known": classify.known,
	"annotations": classify.annotations,
	"verb": classify.verb,
	"labels": sort(classify.labels),
	"scopes": sort(classify.scopes),
	"sources": classify.sources,
}

_class_errors := [e | some e in _hard.reasons] if _hard

else := []
