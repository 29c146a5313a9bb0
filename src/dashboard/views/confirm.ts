// The confirmation step every action goes through: what is about to happen, then Confirm (focused, so Enter does it)
// or Cancel. The form carries the action's fields again, with confirmed=yes; nothing has changed until it is sent.
import { html, type SafeHtml } from '../html.js';
import { csrfField, page, type PageSession, type Section } from './layout.js';

export interface ConfirmView {
  session: PageSession;
  section: Section;
  title: string;
  /** What will happen, in words (and the values that will be written). */
  summary: SafeHtml;
  action: string;
  fields: Record<string, string | string[] | undefined>;
  confirmLabel: string;
  cancelHref: string;
  danger?: boolean;
}

export function confirmPage(view: ConfirmView): string {
  const hidden = Object.entries(view.fields).flatMap(([name, value]) =>
    value === undefined ? [] : (Array.isArray(value) ? value : [value]).map((item) => html`<input type="hidden" name="${name}" value="${item}">`),
  );
  return page({
    title: view.title,
    section: view.section,
    session: view.session,
    body: html`<h1>${view.title}</h1>
<section class="confirm" aria-labelledby="confirm-heading">
  <h2 id="confirm-heading" class="visually-hidden">Please confirm</h2>
  ${view.summary}
  <form method="post" action="${view.action}" class="row">
    ${csrfField(view.session)}
    ${hidden}
    <input type="hidden" name="confirmed" value="yes">
    <button type="submit" id="confirm"${view.danger ? html` class="danger"` : html``} autofocus>${view.confirmLabel}</button>
    <a href="${view.cancelHref}" class="button secondary" id="cancel">Cancel</a>
  </form>
</section>`,
  });
}
