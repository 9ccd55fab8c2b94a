--[[
  Where each item stands in the ledger.
  Input:
    KEYS[1] ledger: the in-flight hash
    ARGV    job ids
  Output:
    per id: 2 written, 1 delivered, 0 claimed or unknown
]]
--- @include "includes/written"
local out = {}
for i = 1, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v then
    out[i] = string.sub(v, 1, 1) == '=' and 1 or 0
  else
    out[i] = writtenfp(ARGV[i]) and 2 or 0
  end
end
return out
