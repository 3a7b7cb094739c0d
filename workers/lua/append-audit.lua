-- Appends audit records to a cluster's chain if its head is still the one the caller linked to.
-- KEYS[1] audit stream  KEYS[2] audit head
-- ARGV[1] expected head ('' = empty)  ARGV[2] new head  ARGV[3] stream maxlen (0 = all)
-- ARGV[4] audit channel  ARGV[5] cluster  ARGV[6..] records
-- Returns 1 on success, 0 on a head conflict (the caller relinks and retries).
local head = redis.call('GET', KEYS[2])
if (head or '') ~= ARGV[1] then return 0 end
local maxlen = tonumber(ARGV[3])
for i = 6, #ARGV do
  if maxlen > 0 then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', 'r', ARGV[i])
  else
    redis.call('XADD', KEYS[1], '*', 'r', ARGV[i])
  end
end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
