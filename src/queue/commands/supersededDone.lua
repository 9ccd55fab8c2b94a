--[[
  After the rewrite: removes a superseded mark only if no retry happened since it was read (a new
  retry raised its generation, and that item's newer line is still to come).
  Input:
    KEYS[1] superseded: job id -> generation
    ARGV    (job id, generation read) pairs
  Output:
    how many marks were removed
]]
local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n
