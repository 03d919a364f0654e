import { ALL_EVENTS, APP_EVENT_TYPES, AppEventType, isAppEventType } from '../app-events';
import { AppWebhooksErrorCode } from '../../common/errors/error-codes';
import { AppWebhooksError } from './app-webhooks.errors';
import { checkUrlForm, resolvePublicAddress } from './delivery/endpoint-url';

/** An endpoint's `metadata`, as JSON, at most this many bytes (like a session's). */
export const ENDPOINT_METADATA_MAX_BYTES = 16 * 1024;

/** The entries of `events` that name no type an endpoint can subscribe to (`ping` is sent only by the test route). */
export function unknownEventTypes(events: readonly string[]): string[] {
  return events.filter((e) => e !== ALL_EVENTS && (!isAppEventType(e) || e === AppEventType.Ping));
}

/** Refuses `events` naming a type outside the catalogue (400 unknown_event_type, naming them). */
export function assertKnownEventTypes(events: readonly string[]): void {
  const unknown = unknownEventTypes(events);
  if (unknown.length === 0) return;
  const ping = unknown.includes(AppEventType.Ping) ? ' (ping is sent only by POST /webhook-endpoints/:id/test)' : '';
  throw new AppWebhooksError(AppWebhooksErrorCode.UnknownEventType, `Unknown event type(s): ${unknown.join(', ')}${ping}`, { unknown });
}

/**
 * Refuses a delivery-log `event_type` filter naming no type the hub sends (400
 * unknown_event_type, listing the valid ones), rather than an empty page. `ping` is
 * valid here: test sends are in the log.
 */
export function assertKnownEventTypeFilter(type: string): void {
  if (isAppEventType(type)) return;
  throw new AppWebhooksError(AppWebhooksErrorCode.UnknownEventType, `Unknown event type: ${type} (one of: ${APP_EVENT_TYPES.join(', ')})`, {
    unknown: [type],
    valid: [...APP_EVENT_TYPES],
  });
}

/** Refuses metadata over 16 KB as JSON. */
export function assertMetadataSize(metadata: Record<string, unknown>): void {
  if (Buffer.byteLength(JSON.stringify(metadata)) > ENDPOINT_METADATA_MAX_BYTES) {
    throw new AppWebhooksError(AppWebhooksErrorCode.MetadataTooLarge, 'metadata must be at most 16 KB as JSON');
  }
}

/**
 * Refuses a URL the hub must not send to: its form (https only, unless private URLs are
 * allowed, which also allows http) → 400 invalid_webhook_url; a host that resolves to a
 * non-public address or does not exist → 400 webhook_url_not_allowed. A lookup that
 * failed for now (EAI_AGAIN: the DNS server did not answer) says nothing about the URL:
 * 503 webhook_url_lookup_failed, to be asked again. The sender checks the resolved
 * address again before every attempt.
 */
export async function assertDeliverableUrl(url: string, allowPrivate: boolean): Promise<void> {
  const form = checkUrlForm(url, allowPrivate);
  if (form) throw new AppWebhooksError(AppWebhooksErrorCode.InvalidUrl, form, { url });
  const target = await resolvePublicAddress(new URL(url).hostname, allowPrivate);
  if ('refusal' in target && target.retryable) {
    throw new AppWebhooksError(AppWebhooksErrorCode.UrlLookupFailed, `${target.refusal}; the URL was not checked, try again`, { url });
  }
  if ('refusal' in target) {
    const hint = allowPrivate ? '' : ' (only public addresses are allowed; WEBHOOK_ALLOW_PRIVATE_URLS opens this for development)';
    throw new AppWebhooksError(AppWebhooksErrorCode.UrlNotAllowed, `${target.refusal}${hint}`, { url });
  }
}
