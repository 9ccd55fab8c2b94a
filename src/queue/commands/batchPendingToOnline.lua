--[[
  Hands up to max pending items to the queue hand-over (online, or to be ended as cancelled).
  Input:
    KEYS[1] pending list
    KEYS[2] body hash
    KEYS[3] data hash
    KEYS[4] in-chunk hash
    KEYS[5] to-online hash
    KEYS[6] online set
    KEYS[7] ledger
    KEYS[8] driver lease
    ARGV[1] owner
    ARGV[2] max
  Output:
    {handed over, still pending}, or {0, -1} without the lease
]]
--- @include "includes/batchDone"
if redis.call('GET', KEYS[8]) ~= ARGV[1] then return {0, -1} end
local n = 0
local max = tonumber(ARGV[2])
while n < max do
  local id = redis.call('LPOP', KEYS[1])
  if not id then break end
  local data = redis.call('HGET', KEYS[3], id)
  if data and redis.call('HEXISTS', KEYS[4], id) == 0 then
    if not done(KEYS[7], id) then
      redis.call('HSET', KEYS[5], id, data)
      redis.call('SADD', KEYS[6], id)
      n = n + 1
    end
    redis.call('HDEL', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
  end
end
return {n, redis.call('LLEN', KEYS[1])}
