# A small hand-written compiled document for the Rego unit tests. The TypeScript compiler's
# real output is exercised by the decision-table tests against the wasm build.
package toolgate.fixture

compiled := {
	"schemaVersion": 1,
	"policy": {"namespace": "ns", "name": "p"},
	"enforcement": "enforce",
	"defaultAction": "deny",
	"patterns": [
		{
			"name": "delete", "words": ["delete", "remove"],
			"annotations": {"readOnlyHint": false, "destructiveHint": true}, "verb": "delete", "labels": [],
		},
		{
			"name": "execute", "words": ["exec", "run"],
			"annotations": {"readOnlyHint": false, "destructiveHint": true, "openWorldHint": true},
			"verb": "create", "labels": ["category:exec"],
		},
		{
			"name": "read", "words": ["get", "read"],
			"annotations": {"readOnlyHint": true}, "verb": "get", "labels": [],
		},
	],
	"patternWords": {"delete": 0, "remove": 0, "exec": 1, "run": 1, "get": 2, "read": 2},
	"servers": {"mail": {"wildcard": 0, "tools": {
		"send": {
			"classified": true,
			"annotations": {"readOnlyHint": false, "destructiveHint": false, "openWorldHint": true},
			"verb": "create", "labels": ["category:communication"], "scopes": [],
			"classifiers": [
				{"path": ["to"], "op": "notContains", "value": "@acme.com", "labels": ["scope:external"], "source": "c0"},
				{"path": ["to"], "op": "contains", "value": "@acme.com", "labels": ["scope:internal"], "source": "c1"},
				{"path": ["body"], "op": "matches", "value": "BEGIN PRIVATE KEY", "labels": ["data:secret"], "source": "c2"},
			],
			"sources": ["profile:mail"], "candidates": 0,
		},
		# Classified by an override that names no verb: the pattern still supplies one.
		"remove_all": {
			"classified": true, "annotations": {"readOnlyHint": false, "destructiveHint": false},
			"labels": [], "scopes": [], "classifiers": [], "sources": ["override"], "candidates": 0,
		},
		# Classified as read-only although its name says "run": the override outranks the pattern.
		"run_report": {
			"classified": true, "annotations": {"readOnlyHint": true}, "verb": "list",
			"labels": [], "scopes": [], "classifiers": [], "sources": ["override"], "candidates": 0,
		},
		"get_secret": {
			"classified": true, "annotations": {"readOnlyHint": true, "secretHint": true}, "verb": "get",
			"labels": [], "scopes": ["mail:read", "mail:secrets"], "classifiers": [], "sources": ["profile:mail"],
			"candidates": 0,
		},
		# Known only through a classifier, so still subject to the name pattern.
		"blast": {
			"classified": false, "annotations": {}, "labels": [], "scopes": [],
			"classifiers": [{"path": ["recipients"], "op": "lengthGreaterThan", "value": 2, "labels": ["audience:bulk"], "source": "c3"}],
			"sources": [], "candidates": 0,
		},
		# Its candidate list leaves out allow-read, which would otherwise match.
		"read_narrow": {
			"classified": true, "annotations": {"readOnlyHint": true}, "verb": "get",
			"labels": [], "scopes": [], "classifiers": [], "sources": ["override"], "candidates": 1,
		},
	}}},
	"policies": [
		{"name": "deny-secret-out", "priority": 0, "action": "deny", "match": "all", "when": {"openWorldHint": true, "labelsAll": ["data:secret"]}, "approvers": [], "quorum": 0, "timeout": ""},
		{"name": "sre-anything", "priority": 5, "action": "allow", "match": "all", "when": {"roles": ["sre"]}, "approvers": [], "quorum": 0, "timeout": ""},
		{"name": "approve-external", "priority": 10, "action": "require_approval", "match": "all", "when": {"verbs": ["create"], "labelsAll": ["scope:external", "category:communication"]}, "approvers": ["manager"], "quorum": 1, "timeout": "60m"},
		{"name": "approve-destructive", "priority": 20, "action": "require_approval", "match": "all", "when": {"destructiveHint": true}, "approvers": ["admin", "ops"], "quorum": 2, "timeout": "1h"},
		{"name": "approve-sensitive", "priority": 30, "action": "require_approval", "match": "any", "when": {"secretHint": true, "labelsAny": ["audience:bulk"], "tools": {"prefix": ["zzz"]}, "servers": ["nowhere"]}, "approvers": ["privacy"], "quorum": 1, "timeout": "15m"},
		{"name": "allow-read", "priority": 50, "action": "allow", "match": "all", "when": {"readOnlyHint": true}, "approvers": [], "quorum": 0, "timeout": ""},
		{"name": "allow-internal", "priority": 50, "action": "allow", "match": "all", "when": {"labelsAll": ["scope:internal"], "servers": ["mail"], "tools": {"prefix": ["se"]}}, "approvers": [], "quorum": 0, "timeout": ""},
		{"name": "any-empty", "priority": 60, "action": "deny", "match": "any", "when": {}, "approvers": [], "quorum": 0, "timeout": ""},
	],
	"candidateLists": [[0, 1, 2, 3, 4, 5, 6], [2]],
	"roles": {"grants": {"analyst": {"prefix": ["mail/get_", "mail/read_"]}}, "unrestricted": ["admin"]},
}

call(tool, arguments) := {"server": "mail", "tool": tool, "arguments": arguments, "caller": {"agent": "bot", "roles": [], "scopes": ["mail:read", "mail:secrets"]}}
