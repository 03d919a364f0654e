import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { isPublicAddress } from './address-policy';

/** Why a webhook URL or the address it resolves to is refused (null: allowed). */
export type UrlRefusal = string | null;

const MAX_URL_LENGTH = 2048;

/**
 * The URL's own form: https (http only when private URLs are allowed), a host, no
 * credentials, no fragment. Checked when an endpoint is created or updated.
 */
export function checkUrlForm(raw: string, allowPrivate: boolean): UrlRefusal {
  if (raw.length > MAX_URL_LENGTH) return `url is longer than ${MAX_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'url is not an absolute URL';
  }
  if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:')) return 'url must be https://';
  if (!url.hostname) return 'url has no host';
  if (url.username || url.password) return 'url must not hold credentials';
  if (url.hash) return 'url must not have a fragment';
  return null;
}

/** A host that could not be resolved or checked; `retryable` when the lookup itself failed for now (the DNS server did not answer). */
export interface AddressRefusal {
  refusal: string;
  retryable?: true;
}

/**
 * getaddrinfo / c-ares errors that say the lookup failed for now, not that the name does
 * not exist: no answer from the DNS server, its failure, a timeout.
 */
const TRANSIENT_LOOKUP_ERRORS = new Set(['EAI_AGAIN', 'ETIMEOUT', 'ETIMEDOUT', 'ESERVFAIL', 'ECONNREFUSED', 'EAI_SYSTEM', 'EAI_MEMORY']);

/**
 * Resolves the URL's host and checks every address it resolves to. Done at create time
 * and again before every send (a name may be re-pointed at an internal address later);
 * the sender then connects only to an address checked here.
 */
export async function resolvePublicAddress(hostname: string, allowPrivate: boolean): Promise<{ address: string; family: number } | AddressRefusal> {
  const host = hostname.replace(/^\[|\]$/g, '');
  let addresses: Array<{ address: string; family: number }>;
  if (isIP(host)) {
    addresses = [{ address: host, family: isIP(host) }];
  } else {
    try {
      addresses = await lookup(host, { all: true, verbatim: true });
    } catch (err) {
      const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : 'lookup failed';
      return TRANSIENT_LOOKUP_ERRORS.has(code)
        ? { refusal: `host ${host} could not be resolved now (${code})`, retryable: true }
        : { refusal: `host ${host} does not resolve (${code})` };
    }
  }
  if (addresses.length === 0) return { refusal: `host ${host} does not resolve` };
  if (!allowPrivate) {
    const blocked = addresses.find((a) => !isPublicAddress(a.address));
    if (blocked) return { refusal: `host ${host} resolves to a non-public address (${blocked.address})` };
  }
  return addresses[0];
}
