--[[
  Whether the results file is due for its rewrite after a retry: every superseded item has its new
  line written (in the written set, not in flight). One rewrite per retry, not one per batch of new
  lines (the file may be large).
  Input:
    KEYS[1] ledger: the in-flight hash
    KEYS[2] superseded: job id -> generation
    ARGV    none
  Output:
    (job id, generation) pairs of every superseded item, or {} while any of them waits for its new line
]]
--- @include "includes/written"
local out = {}
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  if not redis.call('HGET', KEYS[1], all[i]) and writtenfp(all[i]) then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  else
    return {}
  end
end
return out
