--[[
  The call claim, taken right before each API call of an item (docs/architecture.md#exactly-once):
  whatever the job's history or timing, a job whose item already has its line (delivered or written)
  makes no call, and neither does a job while another job's claim on the item is live. A claim is
  "<owner> <expiry ms>" in the calls hash; it ends with the item's delivery, when its job's attempt
  fails (released), or when it lapses (its worker died): then the item may be called again.
  Input:
    KEYS[1] ledger: the in-flight hash
    KEYS[2] calls: the call claims
    KEYS[3] meta: the run's settings and state
    ARGV[1] claim duration, ms
    ARGV    then (job id, owner) pairs
  Output:
    per pair: "go", "done", "busy:<ms left>", or "lost" (the run's meta or the item is gone)
]]
--- @include "includes/written"
local out = {}
if redis.call('HEXISTS', KEYS[3], 'settings') == 0 then
  for i = 2, #ARGV, 2 do out[#out + 1] = 'lost' end
  return out
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  local id, owner = ARGV[i], ARGV[i + 1]
  local v = redis.call('HGET', KEYS[1], id)
  if (v and string.sub(v, 1, 1) == '=') or (not v and writtenfp(id)) then
    out[#out + 1] = 'done'
  elseif not v then
    out[#out + 1] = 'lost'
  else
    local c = redis.call('HGET', KEYS[2], id)
    local sp = c and string.find(c, ' ', 1, true)
    local holder = sp and string.sub(c, 1, sp - 1)
    local expiry = sp and tonumber(string.sub(c, sp + 1)) or 0
    if holder and holder ~= owner and expiry > now then
      out[#out + 1] = 'busy:' .. (expiry - now)
    else
      redis.call('HSET', KEYS[2], id, owner .. ' ' .. (now + ttl))
      out[#out + 1] = 'go'
    end
  end
end
return out
