import { lookup } from 'node:dns/promises';
import { AppWebhooksErrorCode, DOMAIN_ERROR_HTTP_STATUS } from '../../common/errors/error-codes';
import { AppWebhooksError } from './app-webhooks.errors';
import { assertDeliverableUrl, assertKnownEventTypeFilter, assertKnownEventTypes, assertMetadataSize, ENDPOINT_METADATA_MAX_BYTES, unknownEventTypes } from './endpoint-input';

// The real resolver, unless a test makes one lookup fail.
jest.mock('node:dns/promises', () => {
  const actual = jest.requireActual<typeof import('node:dns/promises')>('node:dns/promises');
  return { ...actual, lookup: jest.fn(actual.lookup) };
});

async function refusal(p: Promise<unknown> | (() => void)): Promise<AppWebhooksError> {
  try {
    if (typeof p === 'function') p();
    else await p;
  } catch (err) {
    if (err instanceof AppWebhooksError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('webhook endpoint input', () => {
  it('knows the catalogue, the wildcard, and that ping cannot be subscribed', () => {
    expect(unknownEventTypes(['session.created', 'transcript.segment', '*', 'oauth.connection.revoked'])).toEqual([]);
    expect(unknownEventTypes(['session.created', 'session.exploded', 'ping', 'Session.Created'])).toEqual(['session.exploded', 'ping', 'Session.Created']);
  });

  it('refuses unknown event types with a code that names them', async () => {
    const err = await refusal(() => assertKnownEventTypes(['session.created', 'nope.never']));
    expect(err.code).toBe(AppWebhooksErrorCode.UnknownEventType);
    expect(err.message).toContain('nope.never');
    expect(err.details).toEqual({ unknown: ['nope.never'] });
    expect((await refusal(() => assertKnownEventTypes(['ping']))).message).toContain('/test');
    expect(() => assertKnownEventTypes(['*'])).not.toThrow();
  });

  it('refuses a delivery-log event_type filter outside the catalogue, listing the valid types; ping is valid there', async () => {
    const err = await refusal(() => assertKnownEventTypeFilter('session.exploded'));
    expect(err.code).toBe(AppWebhooksErrorCode.UnknownEventType);
    expect(err.message).toContain('session.exploded');
    expect(err.message).toContain('session.status_changed');
    expect(err.details).toMatchObject({ unknown: ['session.exploded'], valid: expect.arrayContaining(['session.created', 'ping']) });
    expect((await refusal(() => assertKnownEventTypeFilter('Session.Created'))).code).toBe(AppWebhooksErrorCode.UnknownEventType);
    for (const type of ['session.created', 'transcript.segment', 'ping']) expect(() => assertKnownEventTypeFilter(type)).not.toThrow();
  });

  it('caps metadata at 16 KB as JSON', async () => {
    expect(() => assertMetadataSize({ note: 'x'.repeat(ENDPOINT_METADATA_MAX_BYTES - 20) })).not.toThrow();
    expect((await refusal(() => assertMetadataSize({ note: 'x'.repeat(ENDPOINT_METADATA_MAX_BYTES) }))).code).toBe(AppWebhooksErrorCode.MetadataTooLarge);
  });

  it('refuses a URL by its form: https only, no credentials, absolute', async () => {
    for (const url of ['http://93.184.216.34/hook', 'ftp://93.184.216.34/', 'not a url', 'https://user:pw@93.184.216.34/', 'https://93.184.216.34/#frag']) {
      expect((await refusal(assertDeliverableUrl(url, false))).code).toBe(AppWebhooksErrorCode.InvalidUrl);
    }
  });

  it('refuses loopback, private, link-local and metadata addresses unless private URLs are allowed', async () => {
    for (const url of ['https://127.0.0.1/hook', 'https://10.1.2.3/', 'https://192.168.0.10:8443/x', 'https://169.254.169.254/latest', 'https://[::1]/', 'https://100.64.0.1/']) {
      const err = await refusal(assertDeliverableUrl(url, false));
      expect(err.code).toBe(AppWebhooksErrorCode.UrlNotAllowed);
      expect(err.message).toContain('WEBHOOK_ALLOW_PRIVATE_URLS');
    }
    await expect(assertDeliverableUrl('https://127.0.0.1/hook', true)).resolves.toBeUndefined();
    await expect(assertDeliverableUrl('http://127.0.0.1:8080/hook', true)).resolves.toBeUndefined();
    await expect(assertDeliverableUrl('https://93.184.216.34/hook', false)).resolves.toBeUndefined();
  });

  it('refuses a host that does not resolve', async () => {
    const err = await refusal(assertDeliverableUrl('https://no-such-host.invalid/hook', false));
    expect(err.code).toBe(AppWebhooksErrorCode.UrlNotAllowed);
    expect(err.message).toContain('does not resolve');
  });

  it('answers a lookup that failed for now (EAI_AGAIN) with a retryable 503, not a refusal of the URL', async () => {
    (lookup as unknown as jest.Mock).mockRejectedValueOnce(Object.assign(new Error('getaddrinfo EAI_AGAIN app.example.com'), { code: 'EAI_AGAIN' }));
    const err = await refusal(assertDeliverableUrl('https://app.example.com/hook', false));
    expect(err.code).toBe(AppWebhooksErrorCode.UrlLookupFailed);
    expect(DOMAIN_ERROR_HTTP_STATUS[err.code as AppWebhooksErrorCode]).toBe(503);
    expect(err.message).toBe('host app.example.com could not be resolved now (EAI_AGAIN); the URL was not checked, try again');
    expect(err.details).toEqual({ url: 'https://app.example.com/hook' });
  });
});
