// The sign-in page: the app's API key and secret. The secret is never written back into the page.
import { html } from '../html.js';
import { page } from './layout.js';

export function signInPage(options: { apiKey?: string; error?: string; notice?: string }): string {
  return page({
    title: 'Sign in',
    error: options.error,
    notice: options.notice,
    body: html`<h1>Sign in</h1>
<p>Sign in with the app's API key and secret (<code>STREAM_API_KEY</code> and <code>STREAM_API_SECRET</code>, or the
ones the server generated and printed on its first start). The secret is checked on the server and never kept in the
browser; the session is a cookie that ends on its own.</p>
<form method="post" action="/dashboard/sign-in" class="stack narrow">
  <div class="field">
    <label for="api_key">API key</label>
    <input id="api_key" name="api_key" type="text" autocomplete="username" spellcheck="false" required value="${options.apiKey ?? ''}">
  </div>
  <div class="field">
    <label for="api_secret">API secret</label>
    <input id="api_secret" name="api_secret" type="password" autocomplete="current-password" required>
  </div>
  <div><button type="submit">Sign in</button></div>
</form>`,
  });
}
