--[[
  Identical requests: who calls for each request key. A claim by the job that holds the key is its
  own job running again: it calls. A holder whose job no longer exists is replaced.
  Input:
    KEYS[1] dedupe: request key -> "@<job id>" calling, or "=<line>" the shared answer
    KEYS[2] the run's BullMQ job key prefix, "<prefix>:q:<run>:"
    ARGV    (request key, job id) pairs
  Output:
    per pair: "" (this job calls), "=<line>" (copy it), or "@<job id>" (that job calls: wait)
]]
local out = {}
for i = 1, #ARGV, 2 do
  local key, id = ARGV[i], ARGV[i + 1]
  local v = redis.call('HGET', KEYS[1], key)
  if v and string.sub(v, 1, 1) == '=' then
    out[#out + 1] = v
  elseif v and string.sub(v, 2) ~= id and redis.call('EXISTS', KEYS[2] .. string.sub(v, 2)) == 1 then
    out[#out + 1] = v
  else
    redis.call('HSET', KEYS[1], key, '@' .. id)
    out[#out + 1] = ''
  end
end
return out
