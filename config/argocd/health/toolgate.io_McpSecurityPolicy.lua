-- Argo CD health of an McpSecurityPolicy, from the conditions the toolgate operator writes.
--   Progressing  the operator has not compiled this generation yet, or authorizers are still
--                loading its revision (Distributed: RolloutInProgress / NoAuthorizers)
--   Degraded     this generation is invalid or did not build (Ready=False): authorizers keep
--                enforcing the last good revision, and the message says which
--   Healthy      Ready=True and every authorizer reporting enforces the served revision
local hs = {}
local function condition(t)
  if obj.status == nil or obj.status.conditions == nil then return nil end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == t then return c end
  end
  return nil
end
local generation = obj.metadata.generation or 0
local observed = (obj.status ~= nil and obj.status.observedGeneration) or 0
local ready = condition("Ready")
if ready == nil or observed < generation or (ready.observedGeneration or 0) < generation then
  hs.status = "Progressing"
  hs.message = "waiting for the toolgate operator to compile generation " .. generation
  return hs
end
if ready.status ~= "True" then
  hs.status = "Degraded"
  hs.message = ready.message or ready.reason or "not ready"
  return hs
end
local distributed = condition("Distributed")
if distributed ~= nil and distributed.status ~= "True" then
  hs.status = "Progressing"
  hs.message = distributed.message or distributed.reason
  return hs
end
hs.status = "Healthy"
hs.message = (distributed ~= nil and distributed.message) or ready.message
return hs
