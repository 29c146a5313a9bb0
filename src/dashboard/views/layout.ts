// The page around every dashboard view: head (the stylesheet and htmx, both served by this server), the navigation,
// sign-out, and the messages of the last action (`notice`) or failure (`error`, the API's message).
import { html, type SafeHtml } from '../html.js';
import { CSRF_FIELD, CSRF_HEADER } from '../session.js';

/** What a page of a signed-in operator knows about the session. */
export interface PageSession {
  csrf: string;
  /** Seconds since the epoch. */
  expiresAt: number;
}

export type Section = 'users' | 'tasks' | 'webhooks' | 'app';

export interface PageOptions {
  title: string;
  section?: Section;
  session?: PageSession;
  notice?: string;
  error?: string;
  /** Reload the page every few seconds when scripts are off (a task that is still running). */
  refreshWithoutScript?: boolean;
  body: SafeHtml;
}

/**
 * htmx as the dashboard uses it: no inline styles or eval (the Content-Security-Policy allows neither), no history
 * snapshots in browser storage, and error answers swapped in like others, so that their message shows.
 */
const HTMX_CONFIG = JSON.stringify({
  includeIndicatorStyles: false,
  allowEval: false,
  allowScriptTags: false,
  historyEnabled: false,
  historyCacheSize: 0,
  selfRequestsOnly: true,
  responseHandling: [
    { code: '204', swap: false },
    { code: '[2345]..', swap: true },
  ],
});

const SECTIONS: Array<[Section, string]> = [
  ['users', 'Users'],
  ['tasks', 'Tasks'],
  ['webhooks', 'Webhooks'],
  ['app', 'App'],
];

export function csrfField(session: PageSession): SafeHtml {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${session.csrf}">`;
}

export function errorAlert(message: string | undefined): SafeHtml {
  return message ? html`<div class="alert error" role="alert" id="error"><p>${message}</p></div>` : html``;
}

export function noticeAlert(message: string | undefined): SafeHtml {
  return message ? html`<div class="alert notice" role="status" id="notice"><p>${message}</p></div>` : html``;
}

function header(options: PageOptions): SafeHtml {
  const { session, section } = options;
  if (!session) return html`<header class="top"><span class="brand">Stream users · dashboard</span></header>`;
  const ends = new Date(session.expiresAt * 1000).toISOString();
  return html`<header class="top">
  <span class="brand">Stream users · dashboard</span>
  <nav aria-label="Sections"><ul>${SECTIONS.map(
    ([id, label]) => html`<li><a href="/dashboard/${id}"${id === section ? html` aria-current="page"` : html``}>${label}</a></li>`,
  )}</ul></nav>
  <form method="post" action="/dashboard/sign-out" class="sign-out">${csrfField(session)}
    <span class="muted small">Session ends <time datetime="${ends}">${ends.slice(0, 16).replace('T', ' ')} UTC</time></span>
    <button type="submit" class="secondary">Sign out</button>
  </form>
</header>`;
}

export function page(options: PageOptions): string {
  const headers = options.session ? JSON.stringify({ [CSRF_HEADER]: options.session.csrf }) : undefined;
  return `<!doctype html>\n${html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="htmx-config" content="${HTMX_CONFIG}">
${options.refreshWithoutScript ? html`<noscript><meta http-equiv="refresh" content="3"></noscript>` : html``}
<title>${options.title} · Stream users dashboard</title>
<link rel="stylesheet" href="/dashboard/assets/dashboard.css">
<script src="/dashboard/assets/htmx.min.js" defer></script>
</head>
<body${headers ? html` hx-headers="${headers}"` : html``}>
<a class="skip" href="#main">Skip to the content</a>
${header(options)}
<main id="main">
${noticeAlert(options.notice)}
${errorAlert(options.error)}
${options.body}
</main>
</body>
</html>`}\n`;
}
