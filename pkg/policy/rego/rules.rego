# Rule matching. The compiler sorted the rules by (priority, name) and listed, per tool, only
# the rules whose static conditions can hold for it; evaluation visits that list only.
package toolgate.rules

import data.toolgate.classify
import data.toolgate.names

compiled := data.toolgate.compiled

hint_names := {"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint", "secretHint"}

candidates := compiled.candidateLists[classify.tool.candidates] if {
	classify.known
} else := compiled.candidateLists[classify.server.wildcard]

context := {
	"annotations": classify.annotations,
	"verb": classify.verb,
	"labels": classify.labels,
	"server": input.server,
	"tool": input.tool,
	"roles": classify.caller_roles,
}

# Index of the first matching rule. Candidate indexes point into the sorted rule list, so the
# smallest matching index is the winner regardless of iteration order.
first := min({i |
	some i in candidates
	matches(compiled.policies[i], context)
})

# An empty `when` matches every call, whatever `match` says.
matches(p, _) if count(p.when) == 0

matches(p, ctx) if {
	p.match == "all"
	count(p.when) > 0
	every k, v in p.when {
		holds(k, v, ctx)
	}
}

matches(p, ctx) if {
	p.match == "any"
	some k, v in p.when
	holds(k, v, ctx)
}

holds(k, v, ctx) if {
	k in hint_names
	ctx.annotations[k] == v
}

holds("verbs", v, ctx) if ctx.verb in v

holds("labelsAll", v, ctx) if {
	every l in v {
		l in ctx.labels
	}
}

holds("labelsAny", v, ctx) if {
	some l in v
	l in ctx.labels
}

holds("servers", v, ctx) if ctx.server in v

holds("tools", v, ctx) if names.matches(v, ctx.tool)

holds("roles", v, ctx) if {
	some r in v
	r in ctx.roles
}
