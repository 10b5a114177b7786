# A policy that answers every call with what it read: its decision's one reason is
# json.marshal(input). The worker-pool test compares that reason between in-process and worker
# evaluation, so any difference in what the two paths hand the policy shows up as text.
package toolgate

import rego.v1

_base := {"action": "deny", "labels": [], "annotations": {}, "verb": "", "approvers": [], "quorum": 0, "timeout": "", "enforcement": "enforce", "sources": []}

# The engine's load probe ({}) must be denied as invalid input.
decision := object.union(_base, {"rule": "toolgate:invalid-input", "reasons": ["empty input"]}) if {
	input == {}
} else := object.union(_base, {"rule": "echo", "reasons": [json.marshal(input)]})

classification := {"valid": true, "seen": json.marshal(input)}
