# Classification of one call: annotations, verb and labels. Layers, lowest authority first:
# server-reported hints (untrusted) -> profile -> operator override (both pre-merged by the
# compiler into the tool entry) -> tool-name pattern (only for tools no profile or override
# classifies) -> argument classifiers (labels only).
package toolgate.classify

import data.toolgate.args
import data.toolgate.names
import data.toolgate.validate

compiled := data.toolgate.compiled

# The MCP specification's values for hints a server leaves out. secretHint is a proposal
# (SEP-1560) without a default; absent means the tool does not say it returns secrets.
spec_defaults := {
	"readOnlyHint": false,
	"destructiveHint": true,
	"idempotentHint": false,
	"openWorldHint": true,
	"secretHint": false,
}

# The riskier value of each hint. A pattern may always move a hint this way; it may move it
# the other way only where the server said nothing, so an honest server that admits a
# side effect is believed over a name that merely looks harmless.
risky := {
	"readOnlyHint": false,
	"destructiveHint": true,
	"idempotentHint": false,
	"openWorldHint": true,
	"secretHint": true,
}

server := compiled.servers[input.server]

# What the operation is (validate.kind: absent means a tools/call) and what it acts on.
kind := validate.kind

default is_tool := false

is_tool if kind == "tool"

# The operation as reasons quote it: server/tool, or the server and the kind's target.
subject := concat("/", [input.server, input.tool]) if {
	is_tool
} else := concat("", [input.server, " ", kind, " ", input[kind]]) if {
	kind in {"resource", "prompt"}
} else := concat("", [input.server, " ", kind])

default known := false

known if _ = server.tools[input.tool]

# The compiled entry of the tool, or an empty one for a tool the compiler never heard of.
tool := server.tools[input.tool] if known

else := {}

default classified := false

classified if tool.classified == true

server_hints := {k: v |
	some k, v in input.annotations
	_ = spec_defaults[k]
	is_boolean(v)
}

# The tool-name pattern: the name is split into words (snake, kebab, camel and screaming
# case), each tried as is and without a plural/tense suffix, and looked up in the compiler's
# word index. Rows are ordered from most to least dangerous and the lowest row wins, so a
# name like `read_and_delete` is classified by its riskiest word. One small regex and map
# lookups: the wasm compiles a regex on every call, so a regex per row would cost far more.
# Its hints and labels apply only to tools no profile or override classifies; its verb also
# fills in for one that names none.
word_pattern := "[A-Z]?[a-z]+|[A-Z]+"

word_suffixes := ["s", "es", "d", "ed", "ing"]

words := [lower(m[0]) | some m in regex.find_all_string_submatch_n(word_pattern, input.tool, -1)]

pattern := compiled.patterns[i] if {
	i := min({j |
		some w in words
		some stem in array.concat([w], [trim_suffix(w, s) | some s in word_suffixes])
		j := compiled.patternWords[stem]
	})
}

pattern_hints := {k: v |
	not classified
	some k, v in pattern.annotations
	_pattern_applies(k, v)
}

_pattern_applies(k, v) if v == risky[k]

_pattern_applies(k, _) if not _server_says(k)

_server_says(k) if _ = server_hints[k]

_layered := object.union(object.union(spec_defaults, server_hints), tool.annotations) if {
	classified
} else := object.union(object.union(spec_defaults, server_hints), pattern_hints)

# destructiveHint is only meaningful when readOnlyHint is false (MCP spec); without this a
# read-only tool would still carry the spec's default destructiveHint: true. Hints describe
# tools only: a resource read, a prompt or a logging level has none, so a rule on hints never
# matches one.
annotations := {} if {
	not is_tool
} else := object.union(_layered, {"destructiveHint": false}) if {
	_layered.readOnlyHint == true
} else := _layered

# Resources and prompts are classified by the operator's overrides for the server
# (spec.resourceOverrides / promptOverrides): every override whose pattern matches the target
# adds its labels; the first that names a verb gives it.
_target_classes := object.get(server, "resources", []) if {
	kind == "resource"
} else := object.get(server, "prompts", []) if {
	kind == "prompt"
} else := []

target_classes := [c |
	some c in _target_classes
	names.matches(c.match, input[kind])
]

_target_verbs := [c.verb | some c in target_classes; c.verb]

# The empty string means no layer named a verb; rules on verbs then do not match.
verb := _target_verbs[0] if {
	not is_tool
	count(_target_verbs) > 0
} else := tool.verb if {
	tool.verb
} else := pattern.verb if {
	pattern.verb
} else := ""

arguments := input.arguments if is_object(input.arguments)

else := {}

fired := [c |
	some c in tool.classifiers
	args.holds(c, arguments)
]

labels := ((({l | some l in tool.labels} | {l | not classified; some l in pattern.labels}) | {l | some c in fired; some l in c.labels}) | {l | some c in target_classes; some l in c.labels}) | {l | is_tool; some l in object.get(input, "toolLabels", [])}

scopes := {s | some s in tool.scopes}

caller_roles := {r | some r in input.caller.roles}

caller_scopes := {s | some s in input.caller.scopes}

missing_scopes := scopes - caller_scopes

# Role grants: a caller holding at least one restricted role (one listing tools, resources or
# prompts; every such role has an entry in grants) may do only what one of its roles grants for
# the operation's kind, unless it also holds an unrestricted role. Logging is never granted, and
# a role listing only tools grants no resource or prompt: "may call only these tools" keeps
# meaning exactly that. resourceGrants / promptGrants are read with defaults so a bundle compiled
# before they existed decides as it did (every non-tool operation refused).
_restricted_roles := {r | some r in caller_roles; _ = compiled.roles.grants[r]}

grant_denied if {
	count(_restricted_roles) > 0
	not _unrestricted_role_held
	not _granted
}

_unrestricted_role_held if {
	some r in compiled.roles.unrestricted
	r in caller_roles
}

_granted if {
	is_tool
	some r in _restricted_roles
	names.matches(compiled.roles.grants[r], concat("/", [input.server, input.tool]))
}

_granted if {
	kind in {"resource", "prompt"}
	grants := object.get(compiled.roles, concat("", [kind, "Grants"]), {})
	some r in _restricted_roles
	names.matches(grants[r], concat("/", [input.server, input[kind]]))
}

# Which layers contributed, in order of authority, for audit records and debugging.
sources := array.concat(
	array.concat(
		array.concat([s | count(server_hints) > 0; s := "server"], [s | some s in tool.sources]),
		array.concat([s | _pattern_used; s := concat(":", ["pattern", pattern.name])], [s | count(fired) > 0; s := "classifiers"]),
	),
	[s | count(target_classes) > 0; s := "override"],
)

_pattern_used if {
	not classified
	pattern
}

_pattern_used if {
	not tool.verb
	pattern
}

# Reasons that explain labels set from arguments, one per classifier that fired.
classifier_reasons := [r |
	some c in fired
	r := concat("", [c.source, " set ", concat(",", c.labels)])
]
