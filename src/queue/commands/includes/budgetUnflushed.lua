--[[
  Calls admitted by a process on its own (no limit enforced) reach the counters in Redis late; a 429
  or a pause adds them first, so that the rates it reads or cuts from are the real ones.
  Expects KEYS[1] the budget hash.
]]
local function add_unflushed(n)
  if n > 0 then
    redis.call('HINCRBY', KEYS[1], 'n_req', n)
    redis.call('HINCRBY', KEYS[1], 'win_req', n)
  end
end
