/**
 * Lua scripts run atomically in Redis, so one batch's writes for one
 * integration land all together or not at all.
 */

/**
 * Applies one batch for one integration.
 * KEYS[1] stats hash, KEYS[2] watermark hash, KEYS[3..] session hashes (same order as payload.sessions).
 * ARGV[1] JSON: { sessions: [{rev, expectedRev, state}], deltas: {field: n}, events: [{p, o, at, inc: {field: n}}] }
 * Session docs are compare-and-set on `rev` (a stale writer, e.g. a worker that
 * lost its partition, gets 'conflict' and retries from fresh state). Event
 * increments apply only above the per-partition watermark, so a batch replayed
 * after a crash counts nothing twice. A batch with no deltas and no events
 * (a rebuild that does not own the stats) leaves KEYS[1] and KEYS[2] untouched.
 */
export const APPLY_INTEGRATION_BATCH = `
local payload = cjson.decode(ARGV[1])
for i, s in ipairs(payload.sessions) do
  local current = redis.call('HGET', KEYS[2 + i], 'rev')
  if (current or '') ~= (s.expectedRev or '') then
    return {'conflict', KEYS[2 + i]}
  end
end
for i, s in ipairs(payload.sessions) do
  redis.call('HSET', KEYS[2 + i], 'rev', s.rev, 'state', s.state)
end
for field, delta in pairs(payload.deltas) do
  redis.call('HINCRBY', KEYS[1], field, delta)
end
local marks = {}
local counted = 0
local storedAt = tonumber(redis.call('HGET', KEYS[1], 'lastEventAt') or '0')
local lastAt = storedAt
for _, e in ipairs(payload.events) do
  local p = tostring(e.p)
  if marks[p] == nil then
    marks[p] = { base = tonumber(redis.call('HGET', KEYS[2], p) or '-1'), top = -1 }
  end
  local m = marks[p]
  if e.o > m.base then
    for field, n in pairs(e.inc) do redis.call('HINCRBY', KEYS[1], field, n) end
    counted = counted + 1
    if e.at > lastAt then lastAt = e.at end
  end
  if e.o > m.top then m.top = e.o end
end
for p, m in pairs(marks) do
  if m.top > m.base then redis.call('HSET', KEYS[2], p, string.format('%d', m.top)) end
end
if lastAt > storedAt then redis.call('HSET', KEYS[1], 'lastEventAt', string.format('%d', lastAt)) end
return {'ok', tostring(counted)}
`;

/**
 * Writes a hash only if the incoming (occurredAt, eventId) stamp is newer than
 * the stored one: integration and key events may arrive out of order or twice.
 * KEYS[1] hash; ARGV[1] atMs, ARGV[2] eventId, ARGV[3..] field/value pairs.
 */
export const HSET_IF_NEWER = `
local at = tonumber(ARGV[1])
local storedAt = tonumber(redis.call('HGET', KEYS[1], '_at') or '-1')
local storedId = redis.call('HGET', KEYS[1], '_eventId') or ''
if storedAt > at or (storedAt == at and storedId >= ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], '_at', ARGV[1], '_eventId', ARGV[2])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
`;
