# GDPR purpose limitation (McpSecurityPolicy spec.audit.requirePurposeFor): a tools/call that
# carries one of the listed labels must state why it is made. The authorizer reads the purpose
# from params._meta["toolgate.io/purpose"] only (one source, whatever the front end) and tells
# the program no more than that one was stated (input.purposeStated): the text itself is
# personal data the decision does not need, and it is kept, redacted, in the audit record.
package toolgate.purpose

import data.toolgate.classify

cfg := data.toolgate.compiled

_required := {l | some l in cfg.audit.requirePurposeFor.labels}

# The required labels this call carries, sorted, for the reason.
wanted := sort([l | some l in classify.labels; l in _required])

default missing := false

missing if {
	classify.is_tool
	count(wanted) > 0
	not input.purposeStated == true
}

reason := concat("", [
	"tool \"", input.tool, "\" of server \"", input.server, "\" carries ", concat(", ", wanted),
	", for which the policy's spec.audit.requirePurposeFor requires a stated purpose: ",
	"set params._meta[\"toolgate.io/purpose\"] to why this call is made",
])
