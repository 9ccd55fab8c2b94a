--[[
  Items in flight and lines written, read in one step: a batch moving between the two forms is never
  counted twice or not at all.
  Input:
    KEYS[1] ledger: the in-flight hash
    KEYS[2] written: count of lines written
    ARGV    none
  Output:
    {items in flight, lines written}
]]
return { redis.call('HLEN', KEYS[1]), tonumber(redis.call('GET', KEYS[2]) or '0') }
