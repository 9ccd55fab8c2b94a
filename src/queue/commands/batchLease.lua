--[[
  Takes the driver lease when free, or renews it when the caller holds it.
  Input:
    KEYS[1] driver lease
    ARGV[1] owner
    ARGV[2] lease ms
  Output:
    1 when held, else 0
]]
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
return 1
