--[[
  Admits one call under a key's budget (GCRA pacing of requests and tokens, a cap on calls in
  flight, a pause after the key ran out, the adaptive rate when no rpm is known). Redis truncates
  Lua numbers to integers in replies: a wait of 0.4 ms would read as 0, hence the flag.
  Constants: ADAPTIVE_GROWTH_PER_S, REQUEST_MARGIN, TOKEN_MARGIN.
  Input:
    KEYS[1] budget hash
    KEYS[2] budget in-flight leases (sorted set, scored by expiry)
    ARGV[1] rpm (0: none)
    ARGV[2] tpm (0: none)
    ARGV[3] max calls in flight (0: none)
    ARGV[4] the call's token cost
    ARGV[5] lease id
    ARGV[6] lease duration, ms
    ARGV[7] adaptive rate, "1" or "0"
  Output:
    {1, 0, 'ok'} when admitted, else {0, wait ms, reason: 'paused' | 'in_flight' | 'rpm' | 'tpm'}
]]
--- @include "includes/budget"
local rpm, tpm, maxf, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local adaptive = ARGV[7] == '1'
roll()
local pause = num('pause_until', 0)
if pause > now then return {0, math.ceil(pause - now), 'paused'} end
if maxf > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= maxf then return {0, 20, 'in_flight'} end
end
-- Limits the provider announced (x-ratelimit-limit-*) stand in for the ones not configured.
if rpm <= 0 then rpm = num('hdr_rpm', 0) end
if tpm <= 0 then tpm = num('hdr_tpm', 0) end
if rpm <= 0 and adaptive then
  local a = num('arpm', 0)
  if a > 0 then
    -- The allowed rate grows by a fixed share for every whole second without a 429 (compounding).
    local last = num('arpm_at', now)
    if now - last >= 1000 then
      a = a * (1 + {{ADAPTIVE_GROWTH_PER_S}} * math.floor((now - last) / 1000))
      redis.call('HSET', KEYS[1], 'arpm', a, 'arpm_at', now)
    end
    rpm = a
  end
end
local tat_r = math.max(num('tat_r', now), now)
local tat_t = math.max(num('tat_t', now), now)
if rpm > 0 and tat_r > now then return {0, math.ceil(tat_r - now), 'rpm'} end
if tpm > 0 and tat_t > now then return {0, math.ceil(tat_t - now), 'tpm'} end
if rpm > 0 then redis.call('HSET', KEYS[1], 'tat_r', tat_r + (60000 / rpm) * (1 + {{REQUEST_MARGIN}})) end
if tpm > 0 then
  -- Tokens reserved earlier and not used (estimates are on the high side) pay for part of this call.
  local credit = num('credit_t', 0)
  local charged = math.max(0, cost - credit)
  redis.call('HSET', KEYS[1], 'credit_t', credit - (cost - charged), 'tat_t', tat_t + charged * (60000 / tpm) * (1 + {{TOKEN_MARGIN}}))
end
if maxf > 0 then redis.call('ZADD', KEYS[2], now + tonumber(ARGV[6]), ARGV[5]) end
redis.call('HINCRBY', KEYS[1], 'n_req', 1)
redis.call('HINCRBY', KEYS[1], 'win_req', 1)
redis.call('PEXPIRE', KEYS[1], 86400000)
return {1, 0, 'ok'}
