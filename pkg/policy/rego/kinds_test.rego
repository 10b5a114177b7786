# Operations other than tools/call: resources, prompts and logging, decided by rules that name
# their kind; rules written for tools (no kinds) never match them.
package toolgate.kinds_test

import data.toolgate.fixture

_rule(name, priority, action, match, kinds, when) := {"name": name, "priority": priority, "action": action, "match": match, "kinds": kinds, "when": when, "approvers": [], "quorum": 0, "timeout": ""}

_mail := object.union(fixture.compiled.servers.mail, {
	"resources": [
		{"match": {"prefix": ["file:///hr/"]}, "labels": ["data:pii"]},
		{"match": {"suffix": [".csv"]}, "verb": "list", "labels": ["format:table"]},
		{"match": {"prefix": ["file:///docs/"]}, "verb": "get", "labels": []},
	],
	"prompts": [{"match": {"exact": ["draft"]}, "verb": "create", "labels": ["category:communication"]}],
})

# The fixture's tool rules (indexes 0-7, all without kinds) followed by rules of other kinds.
compiled := object.union(fixture.compiled, {"servers": {"mail": _mail}, "policies": array.concat(fixture.compiled.policies, [
	_rule("deny-secret-docs", 70, "deny", "all", ["resource"], {"resources": {"contains": ["secret"]}}),
	_rule("allow-public-docs", 71, "allow", "all", ["resource"], {"resources": {"prefix": ["file:///public/"]}}),
	_rule("allow-greet", 72, "allow", "all", ["prompt"], {"prompts": {"exact": ["greet"]}}),
	_rule("allow-logging", 73, "allow", "all", ["logging"], {}),
	_rule("any-nowhere", 74, "allow", "any", ["resource", "prompt"], {"servers": ["nowhere"], "resources": {"exact": ["file:///x"]}}),
	_rule("tool-and-resource", 75, "allow", "all", ["tool", "resource"], {"tools": {"exact": ["zzz"]}, "resources": {"exact": ["file:///both"]}}),
	_rule("deny-pii-resources", 76, "deny", "all", ["resource"], {"labelsAll": ["data:pii"]}),
	_rule("allow-resource-gets", 77, "allow", "all", ["resource"], {"verbs": ["get"]}),
	_rule("allow-drafting", 78, "allow", "all", ["prompt"], {"verbs": ["create"], "labelsAll": ["category:communication"]}),
])})

caller := {"agent": "bot", "roles": [], "scopes": []}

resource(uri) := {"server": "mail", "kind": "resource", "resource": uri, "caller": caller}

prompt(name) := {"server": "mail", "kind": "prompt", "prompt": name, "caller": caller}

decide(i) := d if {
	d := data.toolgate.decision with data.toolgate.compiled as compiled with input as i
}

decide_allow_default(i) := d if {
	d := data.toolgate.decision with data.toolgate.compiled as object.union(compiled, {"defaultAction": "allow"}) with input as i
}

test_resource_allowed_by_uri_pattern if {
	d := decide(resource("file:///public/readme.md"))
	d.action == "allow"
	d.rule == "allow-public-docs"
	d.annotations == {}
	d.verb == ""
}

test_resource_denied_by_earlier_rule if {
	d := decide(resource("file:///public/secret.txt"))
	d.action == "deny"
	d.rule == "deny-secret-docs"
}

# The fixture's "any-empty" and "sre-anything" rules govern tools only: a resource outside
# every resource pattern falls to the default.
test_resource_unmatched_falls_to_default if {
	d := decide(object.union(resource("file:///private/a"), {"caller": {"roles": ["sre"]}}))
	d.action == "deny"
	d.rule == "toolgate:default"
}

test_allow_default_lets_unmatched_kinds_through if {
	decide_allow_default(resource("file:///private/a")).action == "allow"
	d := decide_allow_default(prompt("other"))
	d.action == "allow"
	d.rule == "toolgate:default"
}

test_prompt_exact_name if {
	decide(prompt("greet")).rule == "allow-greet"
	decide(prompt("Greet")).rule == "toolgate:default"
	decide(prompt("greet ")).rule == "toolgate:default"
}

# A URI equal to a prompt's name, or a tool's, is still only matched by resource conditions.
test_target_fields_do_not_cross if {
	decide(prompt("file:///public/x")).rule == "toolgate:default"
	decide(resource("greet")).rule == "toolgate:default"
}

test_logging_has_no_target if decide({"server": "mail", "kind": "logging", "caller": caller}).rule == "allow-logging"

# `match: any` still requires the kind: the rule's resource condition holds, its kinds do not include prompt.
test_match_any_requires_kind if {
	decide(resource("file:///x")).rule == "any-nowhere"
	decide(prompt("file:///x")).rule == "toolgate:default"
}

# A tools condition never holds for a resource and a resources condition never for a tool.
test_multi_kind_rule_conditions_stay_per_kind if {
	decide(resource("file:///both")).rule == "toolgate:default"
	not data.toolgate.rules.first with data.toolgate.compiled as object.union(compiled, {"candidateLists": [[13], [13]]}) with input as fixture.call("zzz", {})
}

# Even a candidate list naming a resource rule cannot apply it to a tool: kinds are checked.
test_tool_never_matched_by_resource_rule if {
	c := object.union(compiled, {"candidateLists": [[11], [11]]})
	d := data.toolgate.decision with data.toolgate.compiled as c with input as fixture.call("send", {})
	d.rule == "toolgate:default"
}

# A caller restricted by role tool grants is refused everything but the tools it is granted.
test_role_grant_refuses_other_kinds if {
	d := decide(object.union(resource("file:///public/readme.md"), {"caller": {"roles": ["analyst"]}}))
	d.action == "deny"
	d.rule == "toolgate:role-grant"
	d.reasons == ["no role of the caller grants mail resource file:///public/readme.md"]
	decide(object.union({"server": "mail", "kind": "logging"}, {"caller": {"roles": ["analyst"]}})).reasons == ["no role of the caller grants mail logging"]
	decide(object.union(resource("file:///public/readme.md"), {"caller": {"roles": ["analyst", "admin"]}})).rule == "allow-public-docs"
}

# Roles that list resources or prompts grant exactly those (per kind), a bundle from before these
# grants existed (no resourceGrants / promptGrants) still refuses every non-tool operation.
_granting := object.union(compiled, {"roles": {
	"grants": {"analyst": {"prefix": ["mail/get_", "mail/read_"]}, "reader": {}},
	"resourceGrants": {"reader": {"prefix": ["mail/file:///public/"]}},
	"promptGrants": {"reader": {"exact": ["mail/greet"]}},
	"unrestricted": ["admin"],
}})

_as_reader(i) := d if {
	d := data.toolgate.decision with data.toolgate.compiled as _granting with input as object.union(i, {"caller": {"roles": ["reader"]}})
}

test_role_resource_and_prompt_grants if {
	_as_reader(resource("file:///public/readme.md")).rule == "allow-public-docs"
	d := _as_reader(resource("file:///publicity/readme.md"))
	d.rule == "toolgate:role-grant"
	d.reasons == ["no role of the caller grants mail resource file:///publicity/readme.md"]
	_as_reader(prompt("greet")).rule == "allow-greet"
	_as_reader(prompt("greeting")).rule == "toolgate:role-grant"

	# Listing resources and prompts grants no tool and no logging.
	_as_reader(fixture.call("get_secret", {})).rule == "toolgate:role-grant"
	_as_reader({"server": "mail", "kind": "logging"}).rule == "toolgate:role-grant"

	# The analyst (tools only) still may not read the granted resource.
	r := data.toolgate.decision with data.toolgate.compiled as _granting with input as object.union(resource("file:///public/readme.md"), {"caller": {"roles": ["analyst"]}})
	r.rule == "toolgate:role-grant"
}

test_invalid_kind_inputs if {
	decide({"server": "mail", "kind": "resources", "resource": "x"}).reasons == ["input.kind must be one of tool, resource, prompt, logging when present"]
	decide({"server": "mail", "kind": "resource"}).reasons == ["input.resource must be a non-empty string"]
	decide({"server": "mail", "kind": "prompt", "prompt": ""}).reasons == ["input.prompt must be a non-empty string"]
	decide({"server": "mail", "kind": "resource", "resource": "file:///a", "tool": "send"}).reasons == ["input.tool must be absent for input.kind resource"]
	decide({"server": "mail", "kind": "logging", "prompt": "greet"}).reasons == ["input.prompt must be absent for input.kind logging"]
	decide({"server": "mail", "tool": "send", "resource": "file:///a"}).reasons == ["input.resource must be absent for input.kind tool"]
	decide({"server": "mail", "kind": "resource", "resource": 7}).rule == "toolgate:invalid-input"
}

test_unknown_server_other_kinds if decide({"server": "nope", "kind": "prompt", "prompt": "greet"}).rule == "toolgate:unknown-server"

test_dry_run_other_kinds if {
	d := data.toolgate.decision with data.toolgate.compiled as object.union(compiled, {"enforcement": "dryrun"}) with input as resource("file:///private/a")
	d.action == "allow"
	d.dryRunAction == "deny"
}

test_classification_of_a_resource if {
	c := data.toolgate.classification with data.toolgate.compiled as compiled with input as resource("file:///a")
	c.valid == true
	c.kind == "resource"
	c.tool == ""
	c.annotations == {}
}

# Overrides classify resources and prompts: labels of every matching one, verb of the first.
test_resource_overrides_classify if {
	d := decide(resource("file:///hr/salaries.csv"))
	d.labels == ["data:pii", "format:table"]
	d.verb == "list"
	d.rule == "deny-pii-resources"
	d.sources == ["override"]
}

test_resource_override_verb_decides if {
	d := decide(resource("file:///docs/a.md"))
	d.verb == "get"
	d.rule == "allow-resource-gets"
}

test_prompt_override_classifies if {
	d := decide(prompt("draft"))
	d.labels == ["category:communication"]
	d.rule == "allow-drafting"
	decide(prompt("drafts")).rule == "toolgate:default"
}

# Resource overrides never classify prompts, nor tools.
test_overrides_stay_per_kind if {
	decide(prompt("file:///hr/x")).labels == []
	decide(fixture.call("send", {})).sources == ["profile:mail"]
}
