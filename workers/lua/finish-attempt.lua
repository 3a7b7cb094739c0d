-- The last writes of an action attempt that reached its goal, all or nothing: its result audit
-- record (with the chain-head check), the action's final result for synchronous hooks, and its
-- outcome event into the cluster's intake. One round trip where there were two, and no window in
-- which the result is audited but the outcome not yet published.
-- Returns 1 when written; 0 when the audit head moved (the caller relinks and calls again).
-- Arguments are laid out by workers/finish-attempt.ts (finishAttempt), the only caller.
--
-- KEYS[1] audit stream   KEYS[2] audit head   KEYS[3] action result key   KEYS[4] intake stream
-- ARGV[1] expected head ('' = empty chain)   ARGV[2] new head   ARGV[3] stream maxlen (0 = all)
-- ARGV[4] audit channel   ARGV[5] cluster   ARGV[6] final result JSON   ARGV[7] result ttl s
-- ARGV[8] intake field   ARGV[9] outcome event JSON   ARGV[10..] records
--- @include "../../audit/lua/append-records.lua"
local head = redis.call('GET', KEYS[2])
if (head or '') ~= ARGV[1] then return 0 end
appendAuditRecords(KEYS[1], KEYS[2], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], 10, #ARGV)
redis.call('SET', KEYS[3], ARGV[6], 'EX', tonumber(ARGV[7]))
redis.call('XADD', KEYS[4], '*', ARGV[8], ARGV[9])
return 1
