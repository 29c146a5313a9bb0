// What a failure looks like: the API's message (`<Operation> failed with error: "…"`) on a page, or alone as a
// fragment for an htmx request, with a way back.
import { html } from '../html.js';
import { errorAlert, page, type PageSession, type Section } from './layout.js';

const TITLES: Record<number, string> = {
  400: 'The request was refused',
  401: 'Sign in first',
  403: 'Not allowed',
  404: 'Not found',
  413: 'Too large',
  429: 'Too many attempts',
};

export function errorPage(options: { status: number; message: string; session?: PageSession; back: { href: string; label: string }; section?: Section }): string {
  const title = TITLES[options.status] ?? (options.status >= 500 ? 'Something went wrong' : 'The request was refused');
  return page({
    title,
    section: options.section,
    session: options.session,
    error: options.message,
    body: html`<h1>${title}</h1>
<p><a href="${options.back.href}" id="back">${options.back.label}</a></p>`,
  });
}

export function errorFragment(message: string): string {
  return errorAlert(message).text;
}
