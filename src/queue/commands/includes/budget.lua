--[[
  A rate-limit budget (src/worker/limits/budget.ts): the current time in ms by the Redis clock, a
  field of the budget hash as a number, and the rolling 10 s counters.
  Expects KEYS[1] the budget hash.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function num(field, default)
  local v = redis.call('HGET', KEYS[1], field)
  if v then return tonumber(v) end
  return default
end
local function roll()
  local ws = num('win_start', now)
  if now - ws >= 10000 then
    redis.call('HSET', KEYS[1], 'last_req', num('win_req', 0), 'last_tok', num('win_tok', 0), 'last_ms', now - ws,
      'win_start', now, 'win_req', 0, 'win_tok', 0)
  elseif not redis.call('HGET', KEYS[1], 'win_start') then
    redis.call('HSET', KEYS[1], 'win_start', now)
  end
end
