--[[
  The max_cost account (src/queue/cost-cap.ts): the time by the Redis clock, a field of the spend
  hash as a number, and the release of one call's reservation.
  Expects KEYS[1] the spend hash, KEYS[2] the leases sorted set.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function num(field)
  return tonumber(redis.call('HGET', KEYS[1], field) or '0')
end
local function release(lease)
  local a = redis.call('HGET', KEYS[1], 'l:' .. lease)
  if a then
    redis.call('HINCRBY', KEYS[1], 'reserved', -tonumber(a))
    redis.call('HDEL', KEYS[1], 'l:' .. lease)
  end
  redis.call('ZREM', KEYS[2], lease)
end
