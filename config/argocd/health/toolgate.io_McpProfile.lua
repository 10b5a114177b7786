-- Argo CD health of an McpProfile. A profile is data and has no status of its own: what is
-- wrong with one (a missing tool, a bad pattern) shows on the McpSecurityPolicies that use it.
local hs = {}
local tools = 0
if obj.spec ~= nil and obj.spec.tools ~= nil then tools = #obj.spec.tools end
hs.status = "Healthy"
hs.message = "profile " .. (obj.spec.service or "?") .. " " .. (obj.spec.version or "") .. ": " .. tools .. " tools"
return hs
