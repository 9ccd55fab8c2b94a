--[[
  Reserves a call's estimated cost under the run's cap (max_cost), after releasing the reservations
  of dead workers. Once reached, the cap stays reached (for this cap: a run enqueued again with
  another max_cost goes on).
  Input:
    KEYS[1] spend: spent, reserved, capped, l:<lease> -> reserved amount (nano-dollars)
    KEYS[2] spend leases: lease -> expiry ms
    ARGV[1] lease id
    ARGV[2] estimated cost, nano-dollars
    ARGV[3] the cap, nano-dollars
    ARGV[4] lease duration, ms
  Output:
    {1 granted | 0 capped | 2 wait for the calls in flight, spent, reserved}
]]
--- @include "includes/spend"
for _, lease in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do release(lease) end
local cap = ARGV[3]
local spent, reserved = num('spent'), num('reserved')
if redis.call('HGET', KEYS[1], 'capped') == cap then return {0, spent, reserved} end
local est = tonumber(ARGV[2])
if spent + est > tonumber(cap) then
  redis.call('HSET', KEYS[1], 'capped', cap)
  return {0, spent, reserved}
end
if spent + reserved + est > tonumber(cap) then return {2, spent, reserved} end
redis.call('HINCRBY', KEYS[1], 'reserved', est)
redis.call('HSET', KEYS[1], 'l:' .. ARGV[1], est)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[1])
return {1, spent, reserved + est}
