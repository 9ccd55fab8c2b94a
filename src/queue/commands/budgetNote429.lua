--[[
  A 429: counts it, and tells the caller what the key's budget looks like, so that it can decide
  whether the key is out of budget.
  Input:
    KEYS[1] budget hash
    KEYS[2] budget in-flight leases
    ARGV[1] lease id
    ARGV[2] calls admitted locally and not yet counted
  Output:
    {requests and tokens of the current and the previous 10 s window, their span in ms, the rpm and
    tpm the API announced, the rate at which sustained 429s last cut the learned rate (0: none)}
]]
--- @include "includes/budget"
--- @include "includes/budgetUnflushed"
redis.call('ZREM', KEYS[2], ARGV[1])
roll()
add_unflushed(tonumber(ARGV[2]))
redis.call('HINCRBY', KEYS[1], 'n_429', 1)
redis.call('PEXPIRE', KEYS[1], 86400000)
local span = math.max(now - num('win_start', now) + num('last_ms', 0), 1000)
return {num('win_req', 0) + num('last_req', 0), num('win_tok', 0) + num('last_tok', 0), span, num('hdr_rpm', 0), num('hdr_tpm', 0), num('hit_rpm', 0)}
