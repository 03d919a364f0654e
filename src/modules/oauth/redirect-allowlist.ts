/**
 * Whether `candidate` may be used as a post-authorization redirect. Each allow-list
 * entry is an absolute http(s) URL: the candidate must have the same origin and a path
 * under the entry's path (an entry of just an origin allows any path). Userinfo and
 * non-http(s) schemes are always refused, so `javascript:` or `https://evil@host`
 * tricks cannot pass.
 */
export function isRedirectAllowed(candidate: string, allowlist: readonly string[]): boolean {
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return false;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return false;
  if (url.username || url.password) return false;
  return allowlist.some((entry) => {
    let allowed: URL;
    try {
      allowed = new URL(entry);
    } catch {
      return false;
    }
    if (allowed.origin !== url.origin) return false;
    const base = allowed.pathname.endsWith('/') ? allowed.pathname : `${allowed.pathname}/`;
    return allowed.pathname === '/' || url.pathname === allowed.pathname || url.pathname.startsWith(base);
  });
}
