# The adapter answers what toolgate answers for the bench's calls and refuses everything it does
# not decide (`make test-bench`, with the plugin's own OPA). The equivalence over the whole
# workload, with real Check calls, is counted by bench/extauthz/run.ts before any timing.
package envoy.toolgate_test

import data.envoy.toolgate

caller := {"agent": "agent-1", "operator": "alice", "roles": [], "scopes": ["norg:contacts:read"]}

# The plugin's input for a POST /mcp: protojson names, parsed_body beside the raw body.
check(body, ext) := {
	"attributes": {
		"request": {"http": {
			"method": "POST", "path": "/mcp",
			"headers": {"content-type": "application/json", "authorization": "Bearer not-a-jwt"},
			"body": json.marshal(body),
		}},
		"contextExtensions": ext,
	},
	"parsed_body": body,
	"truncated_body": false,
}

call(name, args) := {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": name, "arguments": args}}

gmail := {"toolgate-server": "gmail"}

error_code(r) := json.unmarshal(r.body).error.code

test_allowed_call_sets_identity_and_strips_authorization if {
	r := toolgate.response with input as check(call("read_email", {"id": "1"}), gmail) with data.bench.caller as caller
	r.allowed == true
	r.request_headers_to_remove == ["authorization"]
	r.headers["x-toolgate-agent"] == "agent-1"
	r.headers["x-toolgate-operator"] == "alice"
}

test_denied_call_carries_the_json_rpc_error if {
	r := toolgate.response with input as check(call("send_email", {"to": "bob@acme.com", "body": "-----BEGIN RSA PRIVATE KEY-----\nMIIE"}), gmail)
		with data.bench.caller as caller
	r.allowed == false
	r.http_status == 200
	error_code(r) == -31001
	json.unmarshal(r.body).id == 7
	json.unmarshal(r.body).error.data.rule == "Block secrets in outbound"
}

test_held_call_asks_for_approval if {
	r := toolgate.response with input as check(call("send_email", {"to": "eve@evil.com", "body": "hi"}), gmail) with data.bench.caller as caller
	r.allowed == false
	error_code(r) == -31002
}

test_unknown_server_is_denied_by_the_program if {
	r := toolgate.response with input as check(call("read_email", {}), {"toolgate-server": "nope"}) with data.bench.caller as caller
	r.allowed == false
	error_code(r) == -31001
}

test_other_methods_are_refused if {
	r := toolgate.response with input as check({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, gmail) with data.bench.caller as caller
	r.allowed == false
	error_code(r) == -32600
}

test_truncated_body_is_refused if {
	i := object.union(check(call("read_email", {"id": "1"}), gmail), {"truncated_body": true})
	r := toolgate.response with input as i with data.bench.caller as caller
	r.allowed == false
	error_code(r) == -32600
}

test_no_server_named_by_the_route_is_refused if {
	r := toolgate.response with input as check(call("read_email", {"id": "1"}), {}) with data.bench.caller as caller
	r.allowed == false
	error_code(r) == -32600
}

test_non_string_tool_name_is_refused if {
	r := toolgate.response with input as check(call(["read_email"], {}), gmail) with data.bench.caller as caller
	r.allowed == false
	error_code(r) == -32600
}

test_jwt_mode_refuses_a_token_that_does_not_verify if {
	identity := {"jwks": "{\"keys\":[]}", "issuer": "https://issuer.test", "audience": "https://gateway.example.com/mcp"}
	r := toolgate.response with input as check(call("read_email", {"id": "1"}), gmail) with data.bench.identity as identity
	r.allowed == false
	error_code(r) == -32600
}

test_no_caller_configured_is_refused if {
	r := toolgate.response with input as check(call("read_email", {"id": "1"}), gmail)
	r.allowed == false
	error_code(r) == -32600
}
