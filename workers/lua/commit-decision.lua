-- Commits one decider step atomically: the cluster snapshot (with a version check), the intake
-- position, the audit records (with a chain-head check), the actions to dispatch, the event's
-- result for synchronous hooks, and the seen-marker of the event id.
-- Returns {1, length of the pending actions list} on success; {0} when the snapshot version moved
-- (another decider got there first: the caller reloads); {-2} when the event's seen marker exists
-- (it was decided before: the caller audits the entry as a duplicate instead); {-1} when only the
-- audit head moved (an executor appended: the caller relinks its records onto the new head and
-- commits again).
-- Arguments are laid out by workers/commit-decision.ts (commitDecision), the only caller.
--
-- KEYS[1] snapshot hash   KEYS[2] audit stream   KEYS[3] audit head   KEYS[4] pending actions list
-- KEYS[5] seen key   KEYS[6] event result key; either is KEYS[1] again when there is none: an
-- empty key name would hash to slot 0 (CROSSSLOT in Redis Cluster) and match no ACL key pattern.
-- ARGV[1] expected version ('' = no snapshot yet)   ARGV[2] new version   ARGV[3] snapshot text
-- ARGV[4] intake id consumed   ARGV[5] expected head ('' = empty chain)   ARGV[6] new head
-- ARGV[7] event result JSON   ARGV[8] result ttl s   ARGV[9] seen ttl s   ARGV[10] stream maxlen (0 = all)
-- ARGV[11] audit channel   ARGV[12] cluster   ARGV[13] n records, then records, then n actions, then actions
--- @include "../../audit/lua/append-records.lua"
local current = redis.call('HGET', KEYS[1], 'version')
if (current or '') ~= ARGV[1] then return {0} end
if KEYS[5] ~= KEYS[1] and redis.call('EXISTS', KEYS[5]) == 1 then return {-2} end
local head = redis.call('GET', KEYS[3])
if (head or '') ~= ARGV[5] then return {-1} end

redis.call('HSET', KEYS[1], 'version', ARGV[2], 'data', ARGV[3], 'lastId', ARGV[4])

local n = tonumber(ARGV[13])
appendAuditRecords(KEYS[2], KEYS[3], ARGV[6], tonumber(ARGV[10]), ARGV[11], ARGV[12], 14, 13 + n)

local a = tonumber(ARGV[14 + n])
for i = 1, a do
  redis.call('RPUSH', KEYS[4], ARGV[14 + n + i])
end

if KEYS[5] ~= KEYS[1] then redis.call('SET', KEYS[5], '1', 'EX', tonumber(ARGV[9])) end
if KEYS[6] ~= KEYS[1] then redis.call('SET', KEYS[6], ARGV[7], 'EX', tonumber(ARGV[8])) end
return {1, redis.call('LLEN', KEYS[4])}
