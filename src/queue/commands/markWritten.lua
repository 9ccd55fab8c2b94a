--[[
  The collector has written a batch: moves its ids from the in-flight hash to the written set, counts
  them, and clears the collector's in-progress batch record in one atomic step, so that after a crash
  either the whole batch counts as written or none of it does. An id never claimed (a line made from
  a failed job) counts too, as of any source. A run whose meta is gone (Redis lost its data
  mid-batch) gets no marks: its lines are in the file, which the next run reads back with their sources.
  Input:
    KEYS[1] ledger: the in-flight hash
    KEYS[2] written: count of lines written
    KEYS[3] writing: the collector's in-progress batch record
    KEYS[4] meta: the run's settings and state
    ARGV    job ids
  Output:
    how many ids were newly marked written
]]
--- @include "includes/written"
local n = 0
if redis.call('HEXISTS', KEYS[4], 'settings') == 0 then
  redis.call('DEL', KEYS[3])
  return 0
end
for i = 1, #ARGV do
  local id = ARGV[i]
  if not writtenfp(id) then
    local v = redis.call('HGET', KEYS[1], id)
    redis.call('HSET', wkey(id), wfield(id), v and srcfp(string.sub(v, 2)) or ANY_SOURCE)
    if v then redis.call('HDEL', KEYS[1], id) end
    n = n + 1
  end
end
if n > 0 then redis.call('INCRBY', KEYS[2], n) end
redis.call('DEL', KEYS[3])
return n
