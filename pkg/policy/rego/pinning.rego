# Tool-definition pinning (McpSecurityPolicy spec.toolPinning): a tools/call to a tool whose
# listed definition is not the accepted one (the authorizer sets input.toolChange from its
# McpToolPins) gets onChange — deny, or require_approval from the configured approvers — until
# someone accepts the new definition. Without approvers require_approval would hold a call
# nobody can release, so it is a deny.
package toolgate.pinning

import data.toolgate.classify

cfg := data.toolgate.compiled

default settings := {"onChange": "deny", "approvers": [], "quorum": 0, "timeout": ""}

settings := cfg.toolPinning if is_object(cfg.toolPinning)

default changed := false

changed if {
	classify.is_tool
	is_object(input.toolChange)
}

action := "require_approval" if {
	settings.onChange == "require_approval"
	count(settings.approvers) > 0
} else := "deny"

_ns := object.get(object.get(cfg, "policy", {}), "namespace", "")

reason := concat("", [
	"tool \"", input.tool, "\" of server \"", input.server,
	"\" changed since its definition was accepted (accepted ", object.get(input.toolChange, "accepted", ""),
	", listed now ", object.get(input.toolChange, "listed", ""),
	"); review with: kubectl mcp tools diff ", input.server, " ", input.tool, " -n ", _ns,
	"; accept with: kubectl mcp tools accept ", input.server, " ", input.tool, " -n ", _ns,
])
