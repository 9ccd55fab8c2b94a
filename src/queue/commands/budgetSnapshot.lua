--[[
  What `status` shows of a budget.
  Input:
    KEYS[1] budget hash
    KEYS[2] budget in-flight leases
    ARGV    none
  Output:
    {now ms, calls in flight, the budget hash as field, value pairs}
]]
--- @include "includes/budget"
roll()
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
return {now, redis.call('ZCARD', KEYS[2]), redis.call('HGETALL', KEYS[1])}
