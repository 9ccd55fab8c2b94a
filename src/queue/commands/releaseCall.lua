--[[
  Ends call claims whose attempt failed, so that the job's next attempt (another owner) need not
  wait for them. Claims of other owners stay.
  Input:
    KEYS[1] calls: the call claims
    ARGV    (job id, owner) pairs
  Output:
    1
]]
for i = 1, #ARGV, 2 do
  local c = redis.call('HGET', KEYS[1], ARGV[i])
  if c and string.sub(c, 1, #ARGV[i + 1] + 1) == ARGV[i + 1] .. ' ' then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return 1
