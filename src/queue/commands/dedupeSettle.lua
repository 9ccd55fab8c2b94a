--[[
  Identical requests: the caller's answer. A line is kept unless one was kept already (the first
  usable answer wins); no line releases the key, if this job still holds it.
  Input:
    KEYS[1] dedupe: request key -> "@<job id>" calling, or "=<line>" the shared answer
    KEYS[2] dedupeRetryable: request key -> status, for shared answers `retry` can ask again
    ARGV    (request key, job id, retryable status or "", line or "") quadruples
  Output:
    1
]]
for i = 1, #ARGV, 4 do
  local key, id, status, line = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local v = redis.call('HGET', KEYS[1], key)
  if line ~= '' then
    if not v or string.sub(v, 1, 1) == '@' then
      redis.call('HSET', KEYS[1], key, '=' .. line)
      if status ~= '' then redis.call('HSET', KEYS[2], key, status) end
    end
  elseif v == '@' .. id then
    redis.call('HDEL', KEYS[1], key)
  end
end
return 1
