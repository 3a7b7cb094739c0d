-- Appends ARGV[first..last] (audit records, JSON) to a cluster's audit stream, moves its chain head
-- and announces the cluster on the audit channel (console live updates). Included by every script
-- that writes audit records, so the stream is written one way. Callers have checked the head.
local function appendAuditRecords(stream, headKey, newHead, maxlen, channel, cluster, first, last)
  if last < first then return end
  for i = first, last do
    if maxlen > 0 then
      redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'r', ARGV[i])
    else
      redis.call('XADD', stream, '*', 'r', ARGV[i])
    end
  end
  redis.call('SET', headKey, newHead)
  redis.call('PUBLISH', channel, cluster)
end
