# Rule matching. The compiler sorted the rules by (priority, name) and listed, per tool, only
# the rules whose static conditions can hold for it; evaluation visits that list only.
package toolgate.rules

import data.toolgate.classify
import data.toolgate.names

compiled := data.toolgate.compiled

hint_names := {"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint", "secretHint"}

# Tools use the compiler's per-tool lists; other kinds are rare enough to visit every rule
# (rules_kinds still filters them).
candidates := compiled.candidateLists[classify.tool.candidates] if {
	classify.is_tool
	classify.known
} else := compiled.candidateLists[classify.server.wildcard] if {
	classify.is_tool
} else := [i | some i, _ in compiled.policies]

# Every target field is a string (empty when the kind has none), so the context is always
# defined; the conditions on targets check the kind as well, so "" never matches by accident.
context := {
	"kind": classify.kind,
	"annotations": classify.annotations,
	"verb": classify.verb,
	"labels": classify.labels,
	"server": input.server,
	"tool": object.get(input, "tool", ""),
	"resource": object.get(input, "resource", ""),
	"prompt": object.get(input, "prompt", ""),
	"roles": classify.caller_roles,
}

# The kinds of operation a rule governs, whatever its `match`: a rule compiled before kinds
# existed (no `kinds`) governs tools only, as it always did.
rule_kinds(p) := p.kinds if p.kinds

else := ["tool"]

# Index of the first matching rule. Candidate indexes point into the sorted rule list, so the
# smallest matching index is the winner regardless of iteration order.
first := min({i |
	some i in candidates
	context.kind in rule_kinds(compiled.policies[i])
	matches(compiled.policies[i], context)
})

# An empty `when` matches every operation of the rule's kinds, whatever `match` says.
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

holds("tools", v, ctx) if {
	ctx.kind == "tool"
	names.matches(v, ctx.tool)
}

# Resource URIs are matched exactly as the gate forwards them (it refuses URIs that are not in
# canonical form, authorizer/src/gate/resource-uri.ts), so a glob sees what the upstream reads.
holds("resources", v, ctx) if {
	ctx.kind == "resource"
	names.matches(v, ctx.resource)
}

holds("prompts", v, ctx) if {
	ctx.kind == "prompt"
	names.matches(v, ctx.prompt)
}

holds("roles", v, ctx) if {
	some r in v
	r in ctx.roles
}
