import { expiredEventsEnabled } from './key-expiry-watcher';

describe('expiredEventsEnabled (notify-keyspace-events flags)', () => {
  it.each([
    ['', false],
    ['Ex', true],
    ['xE', true],
    ['AE', true],
    ['KEA', true],
    ['Kx', false], // keyspace channel only: we listen on the keyevent channel
    ['E', false], // no event type selected
    ['Eg$', false],
  ])('"%s" → %s', (flags, expected) => {
    expect(expiredEventsEnabled(flags)).toBe(expected);
  });
});
