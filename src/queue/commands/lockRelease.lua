--[[
  Releases a lock (the collector's, a schedule's) only if it is still this holder's.
  Input:
    KEYS[1] the lock
    ARGV[1] the holder's token
  Output:
    1 released, 0 the lock is not this holder's
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
