--[[
  After the answer: releases the call's lease and replaces its token estimate by what it really cost.
  Constants: TOKEN_MARGIN.
  Input:
    KEYS[1] budget hash
    KEYS[2] budget in-flight leases
    ARGV[1] lease id
    ARGV[2] estimated tokens
    ARGV[3] actual tokens (-1 when unknown)
    ARGV[4] tpm
  Output:
    1
]]
--- @include "includes/budget"
redis.call('ZREM', KEYS[2], ARGV[1])
local est, actual, tpm = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if tpm <= 0 then tpm = num('hdr_tpm', 0) end
if actual < 0 then actual = est end
if tpm > 0 and actual ~= est then
  local per_token = (60000 / tpm) * (1 + {{TOKEN_MARGIN}})
  local tat_t = num('tat_t', now) + (actual - est) * per_token
  if tat_t < now then
    -- The schedule cannot move into the past (that would allow a burst), so what the estimate
    -- over-counted becomes credit for the next calls instead of being lost. Bounded, so that an idle
    -- budget does not save up a burst either.
    local credit = math.min(num('credit_t', 0) + (now - tat_t) / per_token, est * 4)
    redis.call('HSET', KEYS[1], 'credit_t', credit)
    tat_t = now
  end
  redis.call('HSET', KEYS[1], 'tat_t', tat_t)
end
roll()
redis.call('HINCRBY', KEYS[1], 'n_tok', actual)
redis.call('HINCRBY', KEYS[1], 'win_tok', actual)
return 1
