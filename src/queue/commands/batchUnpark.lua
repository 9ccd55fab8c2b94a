--[[
  An item about to be called online: live while it is in a chunk (its batch answers it; no call), else
  it leaves the parked set for good. Its id may stay in the pending list: claims skip ids no longer
  parked.
  Input:
    KEYS[1] body hash
    KEYS[2] data hash
    KEYS[3] in-chunk hash (job id -> chunk id)
    KEYS[4] online set
    ARGV[1] job id
  Output:
    'live' or 'online'
]]
local id = ARGV[1]
if redis.call('HEXISTS', KEYS[3], id) == 1 then return 'live' end
redis.call('HDEL', KEYS[1], id)
redis.call('HDEL', KEYS[2], id)
redis.call('SADD', KEYS[4], id)
return 'online'
