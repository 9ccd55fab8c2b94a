--[[
  Before it writes a batch, the collector notes which items' lines `respool retry` can re-queue, and
  drops the kept job data of the others. A retryable line's status is noted with the item's ledger
  source (status "\n" source): once written, the ledger keeps only a fingerprint of the source, and a
  retried item must be claimed again under the same one.
  Input:
    KEYS[1] ledger: the in-flight hash
    KEYS[2] failedLines: job id -> status "\n" source
    KEYS[3] retryData: job id -> job data
    ARGV    (job id, status, "1" retryable or "0") triples
  Output:
    1
]]
for i = 1, #ARGV, 3 do
  local id = ARGV[i]
  if ARGV[i + 2] == '1' then
    local v = redis.call('HGET', KEYS[1], id)
    redis.call('HSET', KEYS[2], id, ARGV[i + 1] .. '\n' .. (v and string.sub(v, 2) or ''))
  else
    redis.call('HDEL', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
  end
end
return 1
