--[[
  Renews a lock (the collector's, a schedule's) only while it is still this holder's.
  Input:
    KEYS[1] the lock
    ARGV[1] the holder's token
    ARGV[2] new time to live, ms
  Output:
    1 renewed, 0 the lock is not this holder's
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
