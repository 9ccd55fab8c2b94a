--[[
  The producer records items in the ledger: for each (job id, source), a new item is claimed
  ("-" + source); an item known under the same source is pending or done; under another source its
  custom_id is a duplicate.
  Input:
    KEYS[1] ledger: the in-flight hash
    ARGV    (job id, source) pairs
  Output:
    per pair: "new", "pending", "done", "dup:<first source>" (in flight) or "dup:" (written)
]]
--- @include "includes/written"
local out = {}
for i = 1, #ARGV, 2 do
  local id, src = ARGV[i], ARGV[i + 1]
  local v = redis.call('HGET', KEYS[1], id)
  if v then
    local stored = string.sub(v, 2)
    if stored ~= src then
      out[#out + 1] = 'dup:' .. stored
    elseif string.sub(v, 1, 1) == '=' then
      out[#out + 1] = 'done'
    else
      out[#out + 1] = 'pending'
    end
  else
    local fp = writtenfp(id)
    if not fp then
      redis.call('HSET', KEYS[1], id, '-' .. src)
      out[#out + 1] = 'new'
    elseif samesource(fp, src) then
      out[#out + 1] = 'done'
    else
      out[#out + 1] = 'dup:'
    end
  end
end
return out
