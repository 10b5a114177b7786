# The OPA-Envoy plugin's side of `make bench-extauthz`: what an Envoy user who picks
# opa-envoy-plugin writes to enforce toolgate's policy there. The plugin evaluates
# data.envoy.toolgate.response (its `path`) with Envoy's CheckRequest as `input` (protojson
# names: input.attributes.contextExtensions, ...) plus `parsed_body`, the JSON body the plugin
# parsed itself. This file turns that into toolgate's input document (pkg/policy/rego/CONTRACT.md)
# the way toolgate's ext_authz front end does for a tools/call, asks the very same decision
# program (data.toolgate.decision, the Rego toolgate's policy.wasm is built from, over the same
# compiled data.json), and answers what toolgate answers: an allow with the identity headers set
# and Authorization removed, or a denial carrying the JSON-RPC error (-31001 denied, -31002
# approval required) with HTTP 200, as MCP clients expect it.
#
# It covers exactly the bench's workload (tools/call over JSON); anything else is refused, so
# the adapter can never allow what it does not decide. data.bench holds the caller: a fixed
# one (`caller`, the same as toolgate's fixed-caller row) or, when `identity` is set, the
# bearer token verified with io.jwt.decode_verify against the issuer's JWKS.
package envoy.toolgate

import data.toolgate

call := input.parsed_body

# The governed server, named by the route (context_extensions), as toolgate reads it.
server := input.attributes.contextExtensions["toolgate-server"]

default caller := null

caller := data.bench.caller if not data.bench.identity

caller := jwt_caller if data.bench.identity

bearer := substring(h, 7, -1) if {
	h := input.attributes.request.http.headers.authorization
	startswith(h, "Bearer ")
}

jwt_caller := {"agent": claims.azp, "operator": claims.sub, "roles": [], "scopes": split(claims.scope, " ")} if {
	id := data.bench.identity
	[valid, _, claims] := io.jwt.decode_verify(bearer, {"cert": id.jwks, "iss": id.issuer, "aud": id.audience})
	valid
}

tool_input := {
	"server": server,
	"tool": call.params.name,
	"arguments": object.get(call.params, "arguments", {}),
	"caller": caller,
} if {
	not input.truncated_body
	call.jsonrpc == "2.0"
	call.method == "tools/call"
	is_string(call.params.name)
	is_string(server)
	is_object(caller)
}

decision := d if {
	d := toolgate.decision with input as tool_input
}

decision_id := uuid.rfc4122("decision")

_refusal(code, message) := {
	"allowed": false,
	"http_status": 200,
	"headers": {"content-type": "application/json", "x-toolgate-decision-id": decision_id},
	"body": json.marshal({
		"jsonrpc": "2.0", "id": call.id,
		"error": {"code": code, "message": message, "data": {"decisionId": decision_id, "rule": decision.rule, "reasons": decision.reasons}},
	}),
}

# Nothing decided (not a tools/call over JSON, no caller, no server): refused, never allowed.
default response := {
	"allowed": false,
	"http_status": 400,
	"headers": {"content-type": "application/json"},
	"body": "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"not a tools/call this adapter decides\"}}",
}

response := {
	"allowed": true,
	"headers": {"x-toolgate-decision-id": decision_id, "x-toolgate-agent": caller.agent, "x-toolgate-operator": caller.operator},
	"request_headers_to_remove": ["authorization"],
	"response_headers_to_add": {"x-toolgate-decision-id": decision_id},
} if {
	decision.action == "allow"
}

response := _refusal(-31001, concat("", ["denied by rule \"", decision.rule, "\": ", concat("; ", decision.reasons)])) if decision.action == "deny"

response := _refusal(-31002, concat("", ["approval required by rule \"", decision.rule, "\""])) if decision.action == "require_approval"
