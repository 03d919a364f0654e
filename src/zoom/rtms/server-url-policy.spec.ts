import { checkServerUrls, hostMatches } from './server-url-policy';

const zoomOnly = { allowedHosts: ['*.zoom.us'], allowInsecureWs: false };

describe('RTMS server URL policy', () => {
  it('matches wildcard and exact host patterns', () => {
    expect(hostMatches('rtms.zoom.us', '*.zoom.us')).toBe(true);
    expect(hostMatches('a.b.zoom.us', '*.zoom.us')).toBe(true);
    expect(hostMatches('zoom.us', '*.zoom.us')).toBe(false);
    expect(hostMatches('evilzoom.us', '*.zoom.us')).toBe(false);
    expect(hostMatches('zoom.us.evil.com', '*.zoom.us')).toBe(false);
    expect(hostMatches('127.0.0.1', '127.0.0.1')).toBe(true);
  });

  it('accepts wss to Zoom, including comma lists', () => {
    expect(checkServerUrls('wss://rtms-sjc1.zoom.us/signal', zoomOnly)).toBeNull();
    expect(checkServerUrls('wss://a.zoom.us, wss://b.zoom.us', zoomOnly)).toBeNull();
  });

  it.each([
    ['ws://rtms.zoom.us', /scheme ws: is not allowed/],
    ['wss://attacker.example.com', /not in RTMS_ALLOWED_HOSTS/],
    ['wss://a.zoom.us,wss://evil.com', /evil.com/],
    ['wss://user:pw@a.zoom.us', /credentials/],
    ['https://a.zoom.us', /scheme https:/],
    ['not a url', /not a URL/],
    ['', /empty/],
  ])('refuses %s', (url, why) => {
    expect(checkServerUrls(url, zoomOnly)).toMatch(why);
  });

  it('allows ws:// to the simulator only when configured', () => {
    const dev = { allowedHosts: ['127.0.0.1'], allowInsecureWs: true };
    expect(checkServerUrls('ws://127.0.0.1:9000/rtms/signaling', dev)).toBeNull();
    expect(checkServerUrls('ws://127.0.0.1:9000', zoomOnly)).not.toBeNull();
  });
});
