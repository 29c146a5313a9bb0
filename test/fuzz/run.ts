// One fuzz case: send the request, then check every invariant. Throws a FuzzViolation describing the case when one
// fails (or records it, in collecting mode).
import type { CallerKind, FuzzRequest } from './arbitraries/requests.js';
import {
  abbreviate,
  dashboardRedirectProblems,
  dashboardRefusalProblems,
  describeCase,
  dumpDifference,
  envelopeProblems,
  mustBeRefused,
  pollutedPrototypes,
  type Observed,
} from './checks.js';
import type { FuzzEnvironment } from './environment.js';
import { API_KEY, signToken } from '../helpers/server.js';

export class FuzzViolation extends Error {
  constructor(readonly problems: string[], readonly report: string) {
    super(`${problems.map((p) => `✗ ${p}`).join('\n')}\n${report}`);
    this.name = 'FuzzViolation';
  }
}

export interface FuzzProperty {
  /** "server POST /api/v2/users": how the property is named in the suite and in reports. */
  name: string;
  caller: CallerKind;
}

/**
 * Tokens that must never pass for server-side auth, and a server-only route to try them on, one of them (in turn)
 * after every accepted request (the only ones that may change state), after every tenth refused one (a refused
 * request changes nothing in the database, which is checked, and prototypes, which are checked on every case), and
 * at the end of each property: a request that broke authentication is caught by the next check.
 */
const NOT_SERVER_TOKENS: Array<{ label: string; token: string; statuses: number[] }> = [
  // 403 while fz-alice is active; 401 once a fuzzed request deactivated, deleted or revoked it.
  { label: 'a user token', token: signToken({ user_id: 'fz-alice', iat: Math.floor(Date.now() / 1000) - 60 }), statuses: [401, 403] },
  { label: 'a user token claiming server: "true"', token: signToken({ user_id: 'fz-alice', server: 'true', iat: Math.floor(Date.now() / 1000) - 60 }), statuses: [401, 403] },
  { label: 'a server token signed with another secret', token: signToken({ server: true }, { secret: 'not-the-secret' }), statuses: [401] },
  { label: 'an unsigned (alg none) server token', token: `${signToken({ server: true }, { header: { alg: 'none', typ: 'JWT' } }).split('.').slice(0, 2).join('.')}.`, statuses: [401] },
  { label: 'a token with neither claim', token: signToken({ iat: 1 }), statuses: [401] },
];
const SERVER_ONLY_URL = `/api/v2/app?api_key=${API_KEY}`;
let authCheckTurn = 0;

export async function authStillRefused(env: FuzzEnvironment): Promise<string | undefined> {
  const check = NOT_SERVER_TOKENS[authCheckTurn++ % NOT_SERVER_TOKENS.length]!;
  const response = await env.app.inject({ method: 'GET', url: SERVER_ONLY_URL, headers: { 'stream-auth-type': 'jwt', authorization: check.token } });
  const observed: Observed = { status: response.statusCode, headers: response.headers, body: response.body };
  if (!check.statuses.includes(observed.status) || envelopeProblems(observed).length > 0) {
    return `afterwards, ${check.label} on GET /api/v2/app answered ${observed.status} ${abbreviate(observed.body, 300)} (expected a ${check.statuses.join(' or ')} envelope)`;
  }
  return undefined;
}

/** Sends `request` as `property` and checks every invariant; throws FuzzViolation if one fails. */
/** A guest created by any caller is a guest: role guest, no teams, no teams_role. */
function guestProblems(request: FuzzRequest, response: Observed): string[] {
  if (!/^\/(api\/v2\/)?guest(\?|$)/.test(request.url)) return [];
  let user: Record<string, unknown> | undefined;
  try {
    user = (JSON.parse(String(response.body)) as { user?: Record<string, unknown> }).user;
  } catch {
    return ['a guest was created, but the answer is not JSON'];
  }
  if (!user) return ['a guest was created, but the answer has no user'];
  const problems: string[] = [];
  if (user.role !== 'guest') problems.push(`a guest was created with role ${JSON.stringify(user.role)}`);
  if (Array.isArray(user.teams) && user.teams.length > 0) problems.push(`a guest was created with teams ${JSON.stringify(user.teams)}`);
  if (user.teams_role !== undefined) problems.push(`a guest was created with teams_role ${JSON.stringify(user.teams_role)}`);
  return problems;
}

export async function runCase(env: FuzzEnvironment, property: FuzzProperty, request: FuzzRequest): Promise<void> {
  if (env.deadSince) throw new FuzzViolation(['the database stopped answering after an earlier case:'], env.deadSince);
  const problems: string[] = [];
  const before = env.lastDump;
  let response: Observed | undefined;
  try {
    const answer = await env.app.inject({ method: request.method as 'GET', url: request.url, headers: request.headers, payload: request.body });
    response = { status: answer.statusCode, headers: answer.headers, body: answer.body };
  } catch (error) {
    problems.push(`the request failed without an answer: ${String(error)}`);
  }

  // The dump (or the change counter that tells it need not be taken again) doubles as the "is the database still
  // alive" check.
  let after: string | undefined;
  try {
    after = await env.dumpAfterRequest();
  } catch (error) {
    problems.push(`the database no longer answers: ${abbreviate(String(error), 300)}`);
  }

  if (response) {
    const dashboard = /^\/dashboard(\/|\?|$)/.test(request.url);
    // A dashboard page that redirects (to sign in, or after an action) accepted nothing it should have refused.
    const refusal = response.status < 300 || (response.status < 400 && !dashboard) ? mustBeRefused(request) : undefined;
    if (refusal) problems.push(`accepted (${response.status}), yet ${refusal}`);
    if (response.status >= 500) problems.push(`answered ${response.status}: a server error`);
    if (response.status < 300) problems.push(...guestProblems(request, response));
    else if (response.status >= 300 && response.status < 400 && dashboard) {
      problems.push(...dashboardRedirectProblems(response));
    } else if (response.status >= 400) {
      const broken = dashboard ? dashboardRefusalProblems(response) : envelopeProblems(response);
      problems.push(...broken.map((p) => `refused with a broken ${dashboard ? 'page' : 'envelope'}: ${p}`));
      if (after !== undefined && after !== before) problems.push(`refused (${response.status}), yet the database changed:\n${dumpDifference(before, after)}`);
    }
  }
  problems.push(...pollutedPrototypes());
  env.cases += 1;
  if (after !== undefined && (!response || response.status < 400 || env.cases % 10 === 0)) {
    const authProblem = await authStillRefused(env);
    if (authProblem) problems.push(authProblem);
  }

  if (after !== undefined) env.lastDump = after;
  if (problems.length === 0) return;
  const violation = new FuzzViolation(problems, describeCase(property.name, request, response));
  if (after === undefined) env.deadSince = violation.message;
  throw violation;
}
