--[[
  Moves up to max requests pending items (and at most max bytes of request lines) into a new chunk, if
  the caller holds the lease. Chunk ids name provider batches in their metadata, so they carry a
  random suffix.
  Input:
    KEYS[1] pending list
    KEYS[2] body hash
    KEYS[3] chunks hash
    KEYS[4] in-chunk hash
    KEYS[5] chunk sequence
    KEYS[6] driver lease
    ARGV[1] owner
    ARGV[2] max requests
    ARGV[3] max bytes
    ARGV[4] per-line overhead bytes
    ARGV[5] now ms
    ARGV[6] chunk items key prefix
    ARGV[7] random suffix
  Output:
    {chunk id, ids...}, or {} when nothing is pending
]]
if redis.call('GET', KEYS[6]) ~= ARGV[1] then return {} end
local maxn, maxbytes, overhead = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ids, bytes = {}, 0
while #ids < maxn do
  local id = redis.call('LINDEX', KEYS[1], 0)
  if not id then break end
  local size = redis.call('HSTRLEN', KEYS[2], id)
  if size == 0 or redis.call('HEXISTS', KEYS[4], id) == 1 then
    redis.call('LPOP', KEYS[1])
  else
    -- One item always fits (an item too big for any file is refused when the chunk is packed).
    if #ids > 0 and bytes + size + overhead > maxbytes then break end
    redis.call('LPOP', KEYS[1])
    ids[#ids + 1] = id
    bytes = bytes + size + overhead
  end
end
if #ids == 0 then return {} end
local chunk = 'c' .. redis.call('INCR', KEYS[5]) .. '-' .. ARGV[7]
local list = ARGV[6] .. chunk
for _, id in ipairs(ids) do
  redis.call('RPUSH', list, id)
  redis.call('HSET', KEYS[4], id, chunk)
end
redis.call('HSET', KEYS[3], chunk, cjson.encode({id = chunk, n = #ids, createdAt = tonumber(ARGV[5])}))
local out = {chunk}
for _, id in ipairs(ids) do out[#out + 1] = id end
return out
