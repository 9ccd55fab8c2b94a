--[[
  Workers hand over items' lines: each is marked delivered and appended to the results stream in one
  step. A second delivery (a job that ran twice) is dropped here, so that the stream holds one line
  per item. The item's call claim ends with its delivery. A run whose meta is gone (cleaned, or Redis
  lost its data) takes no line: it would only leave a half ledger that the next run misreads.
  Input:
    KEYS[1] ledger: the in-flight hash
    KEYS[2] results: the stream of lines delivered and not yet written
    KEYS[3] calls: the call claims
    KEYS[4] meta: the run's settings and state
    ARGV    (job id, line) pairs
  Output:
    per pair: 1 delivered, 0 already delivered or written, -1 no such item or run (dropped)
]]
--- @include "includes/written"
local out = {}
local lost = redis.call('HEXISTS', KEYS[4], 'settings') == 0
for i = 1, #ARGV, 2 do
  local id = ARGV[i]
  local v = redis.call('HGET', KEYS[1], id)
  local mark = v and string.sub(v, 1, 1) or ''
  local written = not v and writtenfp(id)
  if lost or (not v and not written) then
    out[#out + 1] = -1
  elseif mark == '=' or written then
    redis.call('HDEL', KEYS[3], id)
    out[#out + 1] = 0
  else
    redis.call('HSET', KEYS[1], id, '=' .. (v and string.sub(v, 2) or ''))
    redis.call('XADD', KEYS[2], '*', 'id', id, 'line', ARGV[i + 1])
    redis.call('HDEL', KEYS[3], id)
    out[#out + 1] = 1
  end
end
return out
