-- Appends audit records to a cluster's chain if its head is still the one the caller linked to.
-- Arguments are laid out by audit/scripts.ts (appendAudit), the only caller.
-- KEYS[1] audit stream  KEYS[2] audit head
-- ARGV[1] expected head ('' = empty)  ARGV[2] new head  ARGV[3] stream maxlen (0 = all)
-- ARGV[4] audit channel  ARGV[5] cluster  ARGV[6..] records
-- Returns 1 on success, 0 on a head conflict (the caller relinks and retries).
--- @include "append-records.lua"
local head = redis.call('GET', KEYS[2])
if (head or '') ~= ARGV[1] then return 0 end
appendAuditRecords(KEYS[1], KEYS[2], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], 6, #ARGV)
return 1
