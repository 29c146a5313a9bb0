// HTTP to a Stream-compatible server for `npm run import`: hosted Stream or an instance of this server as the
// source (server-side queryUsers), this server as the target (POST /operator/import). Requests carry a server-side
// token made from the secret; 429s wait for the window the server names (Retry-After, X-RateLimit-Reset), and 5xx
// answers and network errors are retried with backoff. Anything else is the caller's to report.
import { parseJsonExact } from '../lib/json.js';
import { secretKey, signServerToken } from '../auth/jwt.js';

export interface Endpoint {
  /** Base URL, e.g. https://chat.stream-io-api.com or http://127.0.0.1:3030 */
  url: string;
  key: string;
  secret: string;
}

/** A request that failed for good: `status` when the server answered, undefined when it could not be reached. */
export class RemoteError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

export interface RetryPolicy {
  /** Attempts for 5xx answers and network errors (429s wait as long as the server says, up to `rateLimitWaits` times). */
  attempts: number;
  rateLimitWaits: number;
  /** First backoff; doubled each attempt, up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
  timeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 8, rateLimitWaits: 1_000, backoffMs: 500, maxBackoffMs: 30_000, timeoutMs: 120_000 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How long a 429 asks to wait: Retry-After (seconds), else until X-RateLimit-Reset (Unix seconds); 1 to 65 s. */
export function rateLimitWaitMs(headers: Headers, nowMs = Date.now()): number {
  const retryAfter = Number(headers.get('retry-after'));
  let ms = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : NaN;
  if (Number.isNaN(ms)) {
    const reset = Number(headers.get('x-ratelimit-reset'));
    if (Number.isFinite(reset) && reset > 0) ms = reset * 1000 - nowMs;
  }
  if (!Number.isFinite(ms)) ms = 1_000;
  return Math.min(65_000, Math.max(1_000, ms));
}

export class StreamServer {
  private token: Promise<string> | undefined;

  constructor(
    readonly endpoint: Endpoint,
    private readonly what: string,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
    /** Told of each wait, for the progress line. */
    private readonly onWait: (message: string) => void = () => {},
  ) {}

  private authorization(): Promise<string> {
    this.token ??= signServerToken(secretKey(this.endpoint.secret));
    return this.token;
  }

  /** One request, retried as the policy says; resolves with any answer below 500 but 429. */
  async send(
    method: 'GET' | 'POST',
    path: string,
    options: { query?: Record<string, string>; body?: Uint8Array<ArrayBuffer> | string; headers?: Record<string, string>; retry?: Partial<RetryPolicy> } = {},
  ): Promise<{ status: number; text: string }> {
    const policy = { ...this.retry, ...options.retry };
    const url = new URL(path, this.endpoint.url.endsWith('/') ? this.endpoint.url : `${this.endpoint.url}/`);
    url.searchParams.set('api_key', this.endpoint.key);
    for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, value);
    let failures = 0;
    let waits = 0;
    for (;;) {
      let response: Response;
      try {
        response = await fetch(url, {
          method,
          headers: { 'stream-auth-type': 'jwt', authorization: await this.authorization(), ...options.headers },
          body: options.body,
          signal: AbortSignal.timeout(policy.timeoutMs),
        });
      } catch (error) {
        failures++;
        const reason = describeNetworkError(error);
        if (failures >= policy.attempts) throw new RemoteError(`the ${this.what} at ${this.endpoint.url} could not be reached: ${reason}`);
        await this.backoff(policy, failures, `${this.what} unreachable (${reason})`);
        continue;
      }
      const text = await response.text().catch(() => '');
      if (response.status === 429) {
        waits++;
        if (waits > policy.rateLimitWaits) throw new RemoteError(`the ${this.what} kept answering 429 (rate limited)`, 429);
        const ms = rateLimitWaitMs(response.headers);
        this.onWait(`${this.what} rate limited: waiting ${Math.ceil(ms / 1000)} s`);
        await sleep(ms);
        continue;
      }
      if (response.status >= 500) {
        failures++;
        if (failures >= policy.attempts) throw new RemoteError(`the ${this.what} answered ${response.status}: ${messageOf(text)}`, response.status);
        await this.backoff(policy, failures, `${this.what} answered ${response.status}`);
        continue;
      }
      return { status: response.status, text };
    }
  }

  private async backoff(policy: RetryPolicy, failures: number, why: string) {
    const ms = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** (failures - 1));
    this.onWait(`${why}: retrying in ${(ms / 1000).toFixed(1)} s`);
    await sleep(ms);
  }

  /** A 2xx answer's JSON (64-bit integers exact); any other answer is a RemoteError with the server's message. */
  async json(method: 'GET' | 'POST', path: string, options: Parameters<StreamServer['send']>[2] = {}): Promise<Record<string, unknown>> {
    const { status, text } = await this.send(method, path, options);
    if (status === 401 || status === 403) {
      throw new RemoteError(`the ${this.what} refused the credentials (${status}): ${messageOf(text)}`, status);
    }
    if (status < 200 || status >= 300) throw new RemoteError(`the ${this.what} answered ${status}: ${messageOf(text)}`, status);
    try {
      return parseJsonExact(text) as Record<string, unknown>;
    } catch {
      throw new RemoteError(`the ${this.what} answered ${status} with something that is not JSON`, status);
    }
  }

  /**
   * One page of server-side queryUsers on /api/v2, deactivated users included, ordered by id: the users after
   * `afterId`, or those among `ids`.
   */
  async queryUsers(page: { afterId?: string; ids?: string[]; limit: number }): Promise<Array<Record<string, unknown>>> {
    const filter = page.ids ? { id: { $in: page.ids } } : page.afterId !== undefined ? { id: { $gt: page.afterId } } : {};
    const payload = { filter_conditions: filter, sort: [{ field: 'id', direction: 1 }], limit: page.limit, include_deactivated_users: true };
    const body = await this.json('GET', 'api/v2/users', { query: { payload: JSON.stringify(payload) } });
    if (!Array.isArray(body.users)) throw new RemoteError(`the ${this.what} answered queryUsers without a list of users`);
    return body.users as Array<Record<string, unknown>>;
  }
}

/** The message of an error envelope, else the start of the text. */
function messageOf(text: string): string {
  try {
    const body = JSON.parse(text) as { message?: unknown };
    if (typeof body.message === 'string') return body.message;
  } catch {
    // not JSON: the text itself
  }
  return text.slice(0, 200) || '(no body)';
}

function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if ((error as Error).name === 'TimeoutError') return 'no answer in time';
  return cause?.code ?? cause?.message ?? (error as Error).message;
}
