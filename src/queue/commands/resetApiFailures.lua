--[[
  A call of the run got an answer: the count of failures in a row starts again. Writes only when the
  count is not 0 already (the usual case), and never creates the meta of a run cleaned meanwhile.
  Input:
    KEYS[1] meta: the run's settings and state
    ARGV    none
  Output:
    1
]]
local v = redis.call('HGET', KEYS[1], 'api_failures')
if v and v ~= '0' then redis.call('HSET', KEYS[1], 'api_failures', '0') end
return 1
