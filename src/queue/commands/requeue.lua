--[[
  `respool retry`: for each written item whose line has a wanted status and whose job data was kept,
  the item goes back in flight as claimed under its old source (so that the run is not complete
  until its new line is written, and workers may deliver again), the written count and the status
  count go down, the item is noted as superseded (its old line is to leave the file), and its data
  moves to `retrying` until its job is in the queue.
  Input:
    KEYS[1] ledger: the in-flight hash
    KEYS[2] written: count of lines written
    KEYS[3] failedLines: job id -> status "\n" source
    KEYS[4] retryData: job id -> job data
    KEYS[5] retrying: job id -> job data being re-queued
    KEYS[6] superseded: job id -> generation
    KEYS[7] lineCounts: lines written per status
    ARGV[1] wanted statuses, joined by ","
    ARGV    then job ids
  Output:
    {items put back in flight, items wanted whose data was not kept}
]]
--- @include "includes/written"
local wanted = {}
for s in string.gmatch(ARGV[1], '[^,]+') do wanted[s] = true end
local requeued, missing = 0, 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local rec = redis.call('HGET', KEYS[3], id)
  local status, src = rec, ''
  local nl = rec and string.find(rec, '\n', 1, true)
  if nl then status, src = string.sub(rec, 1, nl - 1), string.sub(rec, nl + 1) end
  if status and wanted[status] and not redis.call('HGET', KEYS[1], id) and writtenfp(id) then
    local data = redis.call('HGET', KEYS[4], id)
    if data then
      redis.call('HDEL', wkey(id), wfield(id))
      redis.call('HSET', KEYS[1], id, '-' .. src)
      redis.call('DECR', KEYS[2])
      redis.call('HINCRBY', KEYS[7], status, -1)
      redis.call('HINCRBY', KEYS[6], id, 1)
      redis.call('HSET', KEYS[5], id, data)
      redis.call('HDEL', KEYS[4], id)
      redis.call('HDEL', KEYS[3], id)
      requeued = requeued + 1
    else
      missing = missing + 1
    end
  end
end
return {requeued, missing}
