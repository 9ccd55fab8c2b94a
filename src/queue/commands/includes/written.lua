--[[
  The ledger's written set (src/queue/ledger.ts): where a written job id lives, and the fingerprint
  of a source. Included by every script that reads the ledger; KEYS[1] is always the in-flight hash,
  whose name + ":w:" prefixes the written set's buckets.
  Constants: WRITTEN_BUCKET_HEX (hex digits of the job id naming a bucket), ANY_SOURCE (the
  fingerprint of an item known from a results line that names no source).
]]
-- Job ids are "i" + 32 hex digits (queue/keys.ts); any other id is kept whole in bucket "_".
local function standard(id) return #id == 33 and string.find(id, '^i%x+$') ~= nil end
local function wkey(id)
  if not standard(id) then return KEYS[1] .. ':w:_' end
  return KEYS[1] .. ':w:' .. string.sub(id, 2, 1 + {{WRITTEN_BUCKET_HEX}})
end
local function wfield(id)
  if not standard(id) then return id end
  local hex = string.sub(id, 2 + {{WRITTEN_BUCKET_HEX}}, 13 + {{WRITTEN_BUCKET_HEX}})
  return (string.gsub(hex, '..', function(h) return string.char(tonumber(h, 16)) end))
end
-- 23 bits: the largest that Redis keeps in a 3-byte listpack integer.
local function srcfp(src) return tonumber(string.sub(redis.sha1hex(src), 1, 6), 16) % 8388608 end
local function writtenfp(id) return redis.call('HGET', wkey(id), wfield(id)) end
-- Items known from a line of the results file (not from this Redis) keep the fingerprint of their
-- source's last part, file name and line ("reviews.csv:7"), as -1 - fp: the line's paths are relative
-- to wherever the run was started, the ledger's absolute. A line that names no source (a provider
-- batch line) matches any source.
local ANY_SOURCE = {{ANY_SOURCE}}
local function basefp(base) return -1 - srcfp(base) end
local function samesource(fp, src)
  local f = tonumber(fp)
  return f == srcfp(src) or f == ANY_SOURCE or (f < 0 and f == basefp(string.match(src, '[^/\\]*$')))
end
