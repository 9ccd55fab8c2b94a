--[[
  A call of the run is done: its reservation is replaced by what it cost.
  Input:
    KEYS[1] spend: spent, reserved, capped, l:<lease> -> reserved amount (nano-dollars)
    KEYS[2] spend leases: lease -> expiry ms
    ARGV[1] lease id
    ARGV[2] actual cost, nano-dollars
  Output:
    spent so far, nano-dollars
]]
--- @include "includes/spend"
release(ARGV[1])
redis.call('HINCRBY', KEYS[1], 'spent', tonumber(ARGV[2]))
return num('spent')
