# Session-aware policy (CONTRACT.md, "Session"): velocity limits and flow rules over what the
# authorizer says the session has done (input.session: counts per limit, taint entries). The
# authorizer keeps the state; this program alone decides what it means, so a limit or a flow
# is matched by the same code as a rule and explained by the same decision.
package toolgate.session

import data.toolgate.classify
import data.toolgate.rules

compiled := data.toolgate.compiled

_cfg := compiled.session if compiled.session

else := {"limits": [], "flows": [], "sources": []}

_applies(p) if {
	rules.context.kind in rules.rule_kinds(p)
	rules.matches(p, rules.context)
}

# The limits this call counts toward once it is let through.
counted := sort([l.name | some l in _cfg.limits; _applies(l)])

# The source labels this call taints its session with once it is let through.
taints := sort([l | some l in classify.labels; l in _cfg.sources])

# The call is a sink of some flow rule: the authorizer then reads the session's taint from the
# durable store (not only its cache) and asks again.
sink if {
	some f in _cfg.flows
	_applies(f)
}

_count(name) := n if {
	n := input.session.counts[name]
	is_number(n)
} else := 0

_taint := input.session.taint if is_array(input.session.taint)

else := []

_exceeded := [l |
	some l in _cfg.limits
	_applies(l)
	_hit(l)
]

# A limit applies beyond its max, or (firstUse) to the first matching call of its window only.
_hit(l) if {
	not object.get(l, "firstUse", false)
	_count(l.name) >= l.max
}

_hit(l) if {
	object.get(l, "firstUse", false)
	_count(l.name) == 0
}

# Each violated flow with the earliest entry that taints the session with one of its labels.
_violated := [{"flow": f, "entry": _earliest(f)} |
	some f in _cfg.flows
	_applies(f)
	_earliest(f)
]

_earliest(f) := sort([[e.at, e.label, e] |
	some e in _taint
	e.label in f.from
])[0][2]

# What the session state makes of the call, strictest first; undefined when nothing applies.
constraint := _flow(v) if {
	some v in _violated
	v.flow.action == "deny"
} else := _limit(l) if {
	some l in _exceeded
	l.action == "deny"
} else := _flow(_violated[0]) if {
	count(_violated) > 0
} else := _limit(_exceeded[0]) if {
	count(_exceeded) > 0
}

_flow(v) := {
	"kind": "flow",
	"name": v.flow.name,
	"action": v.flow.action,
	"approvers": v.flow.approvers,
	"quorum": v.flow.quorum,
	"timeout": v.flow.timeout,
	"label": v.entry.label,
	"server": v.entry.server,
	"target": v.entry.target,
	"at": v.entry.at,
	"reason": concat("", [
		"session read ", v.entry.label, " via ", v.entry.server, ".", v.entry.target, " at ", v.entry.at,
		"; flow rule \"", v.flow.name, "\" ", _verb(v.flow.action), " this call",
	]),
}

_limit(l) := {
	"kind": "limit",
	"name": l.name,
	"action": l.action,
	"approvers": l.approvers,
	"quorum": l.quorum,
	"timeout": l.timeout,
	"max": l.max,
	"count": _count(l.name),
	"window": l.window,
	"windowMs": l.windowMs,
	"per": l.per,
	"perTool": l.perTool,
	"reason": _limit_reason(l),
}

_limit_reason(l) := concat("", [
	"velocity limit \"", l.name, "\": first matching call in the last ", l.window,
	" per ", _per(l), "; it ", _verb(l.action), " the first use",
]) if {
	object.get(l, "firstUse", false)
} else := concat("", [
	"velocity limit \"", l.name, "\": ", format_int(_count(l.name), 10), " matching call(s) in the last ", l.window,
	" per ", _per(l), " (max ", format_int(l.max, 10), "); it ", _verb(l.action), " further calls",
])

_verb("deny") := "denies"

_verb("require_approval") := "requires approval for"

_per(l) := concat("", [l.per, " and tool"]) if l.perTool

else := l.per

# What the decision reports about the session, whatever the outcome (audit, explain).
summary := object.union(
	{"counted": counted, "taints": taints, "sink": _is_sink},
	{"constraint": c | c := constraint},
)

_is_sink if sink

else := false
