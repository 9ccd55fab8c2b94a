--[[
  Writes a chunk's record if the caller holds the lease and the chunk still exists.
  Input:
    KEYS[1] chunks hash
    KEYS[2] driver lease
    ARGV[1] owner
    ARGV[2] chunk id
    ARGV[3] record JSON
  Output:
    1 when written, else 0
]]
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
return 1
