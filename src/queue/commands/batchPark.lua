--[[
  Parks one item for a provider batch (its body and job data), unless it went online, is parked
  already, or is done.
  Input:
    KEYS[1] body hash (job id -> request body)
    KEYS[2] data hash (job id -> job data)
    KEYS[3] pending list
    KEYS[4] online set
    KEYS[5] ledger (items in flight)
    KEYS[6] run meta
    ARGV[1] job id
    ARGV[2] request body JSON
    ARGV[3] job data JSON
  Output:
    'parked' (new, or already parked or in a chunk), 'online' (sent online once: it stays online), 'done' (its line is delivered or written), 'gone' (the run was cleaned)
]]
--- @include "includes/batchDone"
if redis.call('HEXISTS', KEYS[6], 'settings') == 0 then return 'gone' end
local id = ARGV[1]
if redis.call('SISMEMBER', KEYS[4], id) == 1 then return 'online' end
if redis.call('HEXISTS', KEYS[1], id) == 1 then return 'parked' end
if done(KEYS[5], id) then return 'done' end
redis.call('HSET', KEYS[1], id, ARGV[2])
redis.call('HSET', KEYS[2], id, ARGV[3])
redis.call('RPUSH', KEYS[3], id)
return 'parked'
