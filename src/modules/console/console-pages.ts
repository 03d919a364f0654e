/**
 * The console's HTML shells, rendered by the server: no inline script or style (the CSP
 * forbids both), every interpolated value escaped. The pages hold no captured data; the
 * client modules fetch it from the public API.
 */

export const CONSOLE_ROUTE = '/console';
export const CONSOLE_ASSETS = `${CONSOLE_ROUTE}/assets`;

/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

interface ShellOptions {
  title: string;
  /** The signed-in user (null on the login page). */
  username: string | null;
  csrf: string | null;
  /** Client module under /console/assets/ (none on the login page). */
  script: string | null;
  body: string;
  dataset?: Record<string, string>;
}

function shell(o: ShellOptions): string {
  const data = Object.entries(o.dataset ?? {})
    .map(([k, v]) => ` data-${k}="${escapeHtml(v)}"`)
    .join('');
  const nav = o.username
    ? `<nav aria-label="Console"><a href="${CONSOLE_ROUTE}">Sessions</a>
      <form method="post" action="${CONSOLE_ROUTE}/logout" class="logout"><input type="hidden" name="csrf" value="${escapeHtml(o.csrf ?? '')}">
      <span class="who">Signed in as ${escapeHtml(o.username)}</span> <button type="submit">Sign out</button></form></nav>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
${o.csrf ? `<meta name="csrf-token" content="${escapeHtml(o.csrf)}">` : ''}
<title>${escapeHtml(o.title)} · RTMS Hub console</title>
<link rel="stylesheet" href="${CONSOLE_ASSETS}/console.css">
${o.script ? `<script type="module" src="${CONSOLE_ASSETS}/${o.script}"></script>` : ''}
</head>
<body${data}>
<a class="skip" href="#main">Skip to content</a>
<header class="top"><a class="brand" href="${CONSOLE_ROUTE}">RTMS Hub console</a>${nav}</header>
<main id="main" tabindex="-1">
${o.body}
</main>
</body>
</html>
`;
}

export function loginPage(opts: { error: string | null; next: string; username: string }): string {
  return shell({
    title: 'Sign in',
    username: null,
    csrf: null,
    script: null,
    body: `<section class="login" aria-labelledby="login-title">
<h1 id="login-title">Sign in</h1>
<p>Use the hub's admin credentials (<code>ADMIN_USERNAME</code> / <code>ADMIN_PASSWORD</code>, the same as Bull Board).</p>
${opts.error ? `<p class="error" role="alert" id="login-error">${escapeHtml(opts.error)}</p>` : ''}
<form method="post" action="${CONSOLE_ROUTE}/login">
<input type="hidden" name="next" value="${escapeHtml(opts.next)}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required value="${escapeHtml(opts.username)}"${opts.error ? ' aria-describedby="login-error"' : ''}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
</section>`,
  });
}

export function sessionsPage(user: { username: string; csrf: string }): string {
  return shell({
    title: 'Sessions',
    username: user.username,
    csrf: user.csrf,
    script: 'sessions-list.js',
    body: `<h1>Sessions</h1>
<form id="filters" class="filters" aria-label="Filter sessions">
<label for="f-status">Status</label>
<select id="f-status" name="status"><option value="">any</option><option>created</option><option>rtms_start_requested</option><option>streaming</option><option>paused</option><option>stopped</option><option>failed</option></select>
<label for="f-from">Created from</label><input id="f-from" name="created_from" type="datetime-local">
<label for="f-to">Created before</label><input id="f-to" name="created_to" type="datetime-local">
<button type="submit">Apply</button>
</form>
<p id="live-state" class="live-state" role="status" aria-live="polite">Connecting to live updates…</p>
<div id="sessions" aria-live="polite" aria-busy="true"><p>Loading sessions…</p></div>
<button id="more" type="button" hidden>Load more</button>`,
  });
}

export function sessionPage(user: { username: string; csrf: string }, sessionId: string): string {
  const section = (id: string, title: string, extra = '') => `<section id="${id}" aria-labelledby="${id}-h" class="panel"><h2 id="${id}-h">${title}</h2>${extra}<div class="body"><p>Loading…</p></div></section>`;
  return shell({
    title: 'Session',
    username: user.username,
    csrf: user.csrf,
    script: 'session-page.js',
    dataset: { 'session-id': sessionId },
    body: `<h1 id="title">Session <code>${escapeHtml(sessionId)}</code></h1>
<div id="summary" class="summary" aria-live="polite"><p>Loading…</p></div>
<div id="controls" class="controls" role="group" aria-label="Stream control">
<button type="button" data-action="pause">Pause</button>
<button type="button" data-action="resume">Resume</button>
<button type="button" data-action="stop" class="danger">Stop</button>
<span id="control-state" role="status" aria-live="polite"></span>
</div>
<div class="grid">
${section('health', 'Stream health')}
${section('timeline', 'Status timeline')}
${section('participants', 'Participants')}
${section('speakers', 'Active speaker')}
</div>
${section(
  'transcript',
  'Transcript',
  `<div class="toolbar"><label for="t-search">Search</label><input id="t-search" type="search" autocomplete="off">
<a id="t-vtt" href="/api/v1/sessions/${escapeHtml(sessionId)}/transcript?format=vtt" download="transcript-${escapeHtml(sessionId)}.vtt">Download VTT</a>
<a id="t-txt" href="/api/v1/sessions/${escapeHtml(sessionId)}/transcript?format=txt" download="transcript-${escapeHtml(sessionId)}.txt">Download TXT</a></div>`,
)}
${section('frames', 'Video frames')}
${section('share', 'Screen share')}
${section('audio', 'Audio')}
${section('chat', 'Chat')}
${section('rooms', 'Zoom Room dispatches')}
<dialog id="viewer" aria-label="Frame"><form method="dialog"><button type="submit" class="close">Close</button></form><img id="viewer-img" alt=""><p id="viewer-caption"></p></dialog>`,
  });
}
