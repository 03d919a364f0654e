import { LIVE_TEXT_MEDIA } from '../live-protocol';
import { parseSseTypes, singleQueryValue } from './live-sse.controller';

describe('SSE query parameters', () => {
  it('takes types as one comma-separated list, default all', () => {
    expect(parseSseTypes(undefined)).toEqual([...LIVE_TEXT_MEDIA]);
    expect(parseSseTypes('')).toEqual([...LIVE_TEXT_MEDIA]);
    expect(parseSseTypes('chat, events,chat')).toEqual(['chat', 'events']);
    expect(parseSseTypes('events,audio')).toBeNull();
  });

  it('refuses types that are not one string (a repeated ?types=, a nested object)', () => {
    expect(parseSseTypes(['events', 'chat'])).toBeNull();
    expect(parseSseTypes({ a: 'events' })).toBeNull();
  });

  it('tells a single query value from an absent or repeated one', () => {
    expect(singleQueryValue(undefined)).toBeUndefined();
    expect(singleQueryValue('x')).toBe('x');
    expect(singleQueryValue(['x', 'y'])).toBeNull();
  });
});
