/**
 * Which RTMS server URLs the hub may connect to. A signed webhook still must never make
 * the hub open a socket to an arbitrary host: only wss:// to hosts matching
 * RTMS_ALLOWED_HOSTS (`*.zoom.us` by default); ws:// only when explicitly allowed (the
 * local simulator in dev/test).
 */
export interface ServerUrlPolicy {
  allowedHosts: readonly string[];
  allowInsecureWs: boolean;
}

export function hostMatches(host: string, pattern: string): boolean {
  const h = host.toLowerCase();
  const p = pattern.toLowerCase().trim();
  if (p.startsWith('*.')) {
    const suffix = p.slice(1); // ".zoom.us"
    return h.endsWith(suffix) && h.length > suffix.length;
  }
  return h === p;
}

/** Returns null when every URL in the comma list is allowed, else why not. */
export function checkServerUrls(serverUrls: string, policy: ServerUrlPolicy): string | null {
  const urls = serverUrls.split(',').map((u) => u.trim()).filter((u) => u.length > 0);
  if (urls.length === 0) return 'server_urls is empty';
  for (const raw of urls) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return `server_urls entry is not a URL`;
    }
    if (url.protocol !== 'wss:' && !(policy.allowInsecureWs && url.protocol === 'ws:')) {
      return `server_urls scheme ${url.protocol} is not allowed (wss:// only)`;
    }
    if (url.username || url.password) return 'server_urls must not carry credentials';
    if (!policy.allowedHosts.some((p) => hostMatches(url.hostname, p))) {
      return `server_urls host ${url.hostname} is not in RTMS_ALLOWED_HOSTS`;
    }
  }
  return null;
}
