--[[
  Ends a chunk whose batch is over: each item whose line is delivered or written leaves the parked
  set; each other one goes back to pending (a new batch) or to the queue hand-over (online).
  Input:
    KEYS[1] chunks hash
    KEYS[2] in-chunk hash
    KEYS[3] body hash
    KEYS[4] data hash
    KEYS[5] pending list
    KEYS[6] to-online hash
    KEYS[7] online set
    KEYS[8] ledger
    KEYS[9] driver lease
    KEYS[10] tries hash
    ARGV[1] owner
    ARGV[2] chunk id
    ARGV[3] chunk items key
    ARGV[4] where the undelivered go: 'batch' or 'online'
  Output:
    {back to pending, handed to online}, or {-1, -1} without the lease
]]
--- @include "includes/batchDone"
if redis.call('GET', KEYS[9]) ~= ARGV[1] then return {-1, -1} end
local ids = redis.call('LRANGE', ARGV[3], 0, -1)
local back, online = 0, 0
for _, id in ipairs(ids) do
  redis.call('HDEL', KEYS[2], id)
  if done(KEYS[8], id) then
    redis.call('HDEL', KEYS[3], id)
    redis.call('HDEL', KEYS[4], id)
    redis.call('HDEL', KEYS[10], id, id .. '@')
  elseif ARGV[4] == 'online' then
    local data = redis.call('HGET', KEYS[4], id)
    if data then
      redis.call('HSET', KEYS[6], id, data)
      redis.call('SADD', KEYS[7], id)
      online = online + 1
    end
    redis.call('HDEL', KEYS[3], id)
    redis.call('HDEL', KEYS[4], id)
  else
    redis.call('RPUSH', KEYS[5], id)
    back = back + 1
  end
end
redis.call('DEL', ARGV[3])
redis.call('HDEL', KEYS[1], ARGV[2])
return {back, online}
