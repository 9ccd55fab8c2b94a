--[[
  What the collector records after each batch for `respool status`: lines per status, and now and
  then a (time, lines written) sample for the rate. The sample reads the written count in the same
  step, so that it matches the ledger exactly.
  Constants: MAX_SAMPLES (samples kept).
  Input:
    KEYS[1] lineCounts: lines written per status
    KEYS[2] progress: "<ms>:<written>" samples, newest first
    KEYS[3] written: count of lines written
    ARGV[1] now in ms, or "" for no sample
    ARGV    then (status, count) pairs
  Output:
    1
]]
for i = 2, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
if ARGV[1] ~= '' then
  redis.call('LPUSH', KEYS[2], ARGV[1] .. ':' .. (redis.call('GET', KEYS[3]) or '0'))
  redis.call('LTRIM', KEYS[2], 0, {{MAX_SAMPLES}} - 1)
end
return 1
