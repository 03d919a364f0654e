/**
 * Compare-and-act scripts for Redis leases (a key whose value is the holder's token).
 * Every lease in the hub — locks, the event-WebSocket lease — releases and renews through
 * these, so "only the holder may act" is written once.
 */

/** Deletes the key only while it still holds ARGV[1]; returns 1 when it did. */
export const RELEASE_IF_HOLDER = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/** Sets the key's TTL to ARGV[2] ms only while it still holds ARGV[1]; returns 1 when it did. */
export const RENEW_IF_HOLDER = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
