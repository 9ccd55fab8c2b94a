--[[
  Items whose line is in the results file, read back into a ledger that did not know them (after
  `clean`, a Redis that lost its data, or a file moved to another Redis): each becomes written, with
  its source as the line gives it (see samesource), and counted. An item in flight here is written
  too: its line is in the file already. An item seen again in the file is marked superseded, so that
  the collector keeps only its last line.
  Input:
    KEYS[1] ledger: the in-flight hash
    KEYS[2] written: count of lines written
    KEYS[3] lineCounts: lines written per status
    KEYS[4] superseded: items whose older line must leave the file
    ARGV    (job id, source base or "" for any, status, "1" when seen before in the file) quadruples
  Output:
    how many items were new to the ledger
]]
--- @include "includes/written"
local n = 0
for i = 1, #ARGV, 4 do
  local id, base, status = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if ARGV[i + 3] == '1' then redis.call('HSETNX', KEYS[4], id, '1') end
  if not writtenfp(id) then
    local v = redis.call('HGET', KEYS[1], id)
    local fp = ANY_SOURCE
    if v then
      fp = srcfp(string.sub(v, 2))
      redis.call('HDEL', KEYS[1], id)
    elseif base ~= '' then
      fp = basefp(base)
    end
    redis.call('HSET', wkey(id), wfield(id), fp)
    redis.call('HINCRBY', KEYS[3], status, 1)
    n = n + 1
  end
end
if n > 0 then redis.call('INCRBY', KEYS[2], n) end
return n
