--[[
  Counts one batch answer worth another try for an item, once per chunk: reading the same batch's
  files again (after a crash, before the chunk ended) counts nothing more. The field `<id>@` holds
  the chunk last counted; an item is in one chunk at a time, and its chunks come one after another.
  Input:
    KEYS[1] tries hash
    ARGV[1] job id
    ARGV[2] chunk id
  Output:
    the item's count of tries
]]
local mark = ARGV[1] .. '@'
if redis.call('HGET', KEYS[1], mark) == ARGV[2] then
  return tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
end
redis.call('HSET', KEYS[1], mark, ARGV[2])
return redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
