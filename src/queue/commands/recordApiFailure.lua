--[[
  One more API call of the run failed for want of an answer (the circuit breaker): counts one more
  failure in a row, noting when the streak began by the Redis clock. A cleaned run is not brought back.
  Input:
    KEYS[1] meta: the run's settings and state
    ARGV    none
  Output:
    {failures in a row, the run's state, ms since the streak began}, or {0, '', 0} for a cleaned run
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, '', 0} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = redis.call('HINCRBY', KEYS[1], 'api_failures', 1)
if n == 1 then redis.call('HSET', KEYS[1], 'api_failing_since', now) end
local since = tonumber(redis.call('HGET', KEYS[1], 'api_failing_since')) or now
return {n, redis.call('HGET', KEYS[1], 'state') or '', now - since}
