// The console's only way to data: the hub's public REST API, with the console cookie
// (sent by the browser) and, on changes, the CSRF token from the page's <meta>.

const csrfMeta = document.querySelector('meta[name="csrf-token"]');
const CSRF = csrfMeta ? csrfMeta.getAttribute('content') || '' : '';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The login page, coming back here afterwards. */
export function toLogin() {
  const next = encodeURIComponent(location.pathname);
  location.assign(`/console/login?next=${next}`);
}

/** Calls /api/v1<path>; resolves to the parsed JSON (or text), rejects with ApiError. */
export async function api(path, { method = 'GET', body, text = false } = {}) {
  const headers = { accept: text ? 'text/plain' : 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') headers['x-csrf-token'] = CSRF;
  let res;
  try {
    res = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'network_error', 'The hub cannot be reached. Check your connection and reload.');
  }
  if (res.status === 401) {
    toLogin();
    throw new ApiError(401, 'login_required', 'Your console login has expired.');
  }
  if (!res.ok) {
    let code = `http_${res.status}`;
    let message = `The hub answered ${res.status}`;
    try {
      const err = await res.json();
      if (err && typeof err.error === 'string') code = err.error;
      if (err && typeof err.message === 'string') message = err.message;
    } catch {
      /* not JSON */
    }
    throw new ApiError(res.status, code, message);
  }
  if (res.status === 202 || res.status === 204 || method === 'HEAD') return res.status === 204 ? null : res.json().catch(() => null);
  return text ? res.text() : res.json();
}

/** Every page of a keyset-paginated list (up to `max` rows). */
export async function allPages(path, max = 1000) {
  const rows = [];
  let cursor = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page = await api(`${path}${sep}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    rows.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor && rows.length < max);
  return rows;
}

/** What an artifact download answers when it cannot be shown (an <img>/<audio> only says "error"). */
export async function artifactProblem(id) {
  try {
    await api(`/artifacts/${encodeURIComponent(id)}`, { method: 'GET' });
    const res = await fetch(`/api/v1/artifacts/${encodeURIComponent(id)}/content`, { method: 'GET', headers: { range: 'bytes=0-0' }, credentials: 'same-origin' });
    if (res.ok) return null;
    const err = await res.json().catch(() => ({}));
    return describeArtifactError(res.status, err.error);
  } catch (err) {
    return describeArtifactError(err.status, err.code);
  }
}

export function describeArtifactError(status, code) {
  if (code === 'storage_unavailable' || status === 503) return 'Storage is unreachable right now: try again later.';
  if (code === 'artifact_content_missing' || code === 'artifact_not_found' || status === 404 || status === 410) return 'Deleted (retention or erasure): the file is no longer stored.';
  return `Cannot be shown (${code || status}).`;
}
