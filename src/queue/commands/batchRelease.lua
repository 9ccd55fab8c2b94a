--[[
  Gives the driver lease up if the caller holds it.
  Input:
    KEYS[1] driver lease
    ARGV[1] owner
  Output:
    1
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
