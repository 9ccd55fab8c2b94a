--[[
  The key is out of budget (a 429 that says so, or "no requests left" headers): every worker of this
  key waits until the given time. When told to, the learned rate is cut, starting from the rate
  actually reached when first limited.
  Constants: ADAPTIVE_FLOOR_RPM, ADAPTIVE_CUT, ADAPTIVE_CUT_EVERY_MS.
  Input:
    KEYS[1] budget hash
    KEYS[2] budget in-flight leases
    ARGV[1] lease id
    ARGV[2] pause, ms
    ARGV[3] cut the learned rate, "1" or "0"
    ARGV[4] count as a 429, "1" or "0"
    ARGV[5] calls admitted locally and not yet counted
  Output:
    1
]]
--- @include "includes/budget"
--- @include "includes/budgetUnflushed"
redis.call('ZREM', KEYS[2], ARGV[1])
roll()
add_unflushed(tonumber(ARGV[5]))
local until_ms = now + tonumber(ARGV[2])
if until_ms > num('pause_until', 0) then redis.call('HSET', KEYS[1], 'pause_until', until_ms) end
redis.call('HINCRBY', KEYS[1], 'n_pause', 1)
if ARGV[4] == '1' then redis.call('HINCRBY', KEYS[1], 'n_429', 1) end
if ARGV[3] == '1' then
  local a = num('arpm', 0)
  local cut_at = num('arpm_cut_at', 0)
  -- One cut per pause (and at most one a second): the other calls in flight when the limit was hit
  -- report the same event.
  if now >= cut_at then
    local span = math.max(now - num('win_start', now) + num('last_ms', 0), 1000)
    local reached = (num('win_req', 0) + num('last_req', 0)) * 60000 / span
    if a <= 0 then a = reached end
    a = math.max({{ADAPTIVE_FLOOR_RPM}}, a * {{ADAPTIVE_CUT}})
    -- The rate that met the limit: a later 429 near it is taken as the same limit (see on-429.ts).
    redis.call('HSET', KEYS[1], 'arpm', a, 'arpm_at', until_ms, 'arpm_cut_at', math.max(until_ms, now + {{ADAPTIVE_CUT_EVERY_MS}}), 'hit_rpm', reached)
  end
end
return 1
