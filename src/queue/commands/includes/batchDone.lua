--[[
  Is the item's line delivered or written (its ledger entry is gone or marked "=")?
  Expects the ledger key as the first argument of done().
]]
local function done(ledger, id)
  local v = redis.call('HGET', ledger, id)
  return (not v) or string.sub(v, 1, 1) == '='
end
