-- Argo CD health of an ApprovalRequest (one tool call held for human approval). Informational:
-- the authorizer releases a call only on the decisions and the clock, never on this phase.
--   Suspended    Pending: waiting for people (the call does not run meanwhile)
--   Progressing  Approved: waiting for the authorizer to release the call
--   Healthy      Consumed (the approved call ran once) or Superseded (decided afresh)
--   Degraded     Denied, or Expired unapproved (timeout-to-abort): the call did not run
local hs = {}
local phase = (obj.status ~= nil and obj.status.phase) or "Pending"
local call = obj.spec.server .. "/" .. obj.spec.tool .. " (rule " .. obj.spec.rule .. ")"
local approvals = 0
if obj.status ~= nil and obj.status.decisions ~= nil then
  for _, d in ipairs(obj.status.decisions) do
    if d.decision == "approve" then approvals = approvals + 1 end
  end
end
if phase == "Pending" then
  hs.status = "Suspended"
  hs.message = call .. ": " .. approvals .. "/" .. obj.spec.quorum .. " approvals from " .. table.concat(obj.spec.approvers, ", ") .. "; expires " .. obj.spec.expiresAt
elseif phase == "Approved" then
  hs.status = "Progressing"
  hs.message = call .. ": approved, waiting for the authorizer to release it"
elseif phase == "Consumed" then
  hs.status = "Healthy"
  hs.message = call .. ": released once" .. ((obj.status.consumedBy ~= nil and (" by " .. obj.status.consumedBy)) or "")
elseif phase == "Superseded" then
  hs.status = "Healthy"
  hs.message = call .. ": superseded, the policy changed what the call requires"
else
  hs.status = "Degraded"
  local said = { Denied = "denied", Expired = "expired unapproved" }
  hs.message = call .. ": " .. (said[phase] or phase) .. ", the call did not run"
end
return hs
