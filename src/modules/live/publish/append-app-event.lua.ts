/**
 * Appends an app event's entry to its session's text log once, however often the
 * fan-out job runs: the marker key says it was appended. The marker is checked first and
 * set after the XADD (the script is atomic, so no other caller slips in between): a
 * Lua error does not roll back earlier writes, and a marker set before a failed XADD
 * would lose the entry for good.
 *
 * KEYS: 1 marker (appEventLogged), 2 text log, 3 active sessions.
 * ARGV: 1 marker TTL (s), 2 MINID threshold, 3 entry field name, 4 entry JSON,
 * 5 now (ms), 6 session id, 7 log TTL (ms).
 * Returns the new entry id, or nil when the event was appended before.
 */
export const APPEND_APP_EVENT_ONCE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local id = redis.call('XADD', KEYS[2], 'MINID', '~', ARGV[2], '*', ARGV[3], ARGV[4])
redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[6])
return id
`;
