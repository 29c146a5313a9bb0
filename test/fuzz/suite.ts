// Property-based fuzzing of every route the app serves, for server, user and anonymous callers, and the dashboard's
// routes also for its signed-in operator (see README.md,
// "Fuzzing"). For every request: never a 5xx, the database still answers, no built-in prototype polluted, and a token
// without the server claim still refused afterwards. For every refused request: Stream's error envelope with
// StatusCode = the HTTP status, no internal error text in it, and the state tables exactly as before. And a filter
// with an unknown `$` operator, at any depth, is never accepted.
//
// The properties are split into shards by route (SHARDS, shardOf), one test file each (test/fuzz/*.test.ts), so that
// they run in parallel, each on an app and database of its own; together they fuzz every route, with the same number
// of cases per route and caller as one file would (runsPerProperty counts all the properties, whatever the shard).
import { appendFileSync } from 'node:fs';
import Fastify from 'fastify';
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { describeRoutes, servedRoutes } from '../helpers/routes.js';
import { requestArbitrary, type CallerKind, type FuzzRequest } from './arbitraries/requests.js';
import type { Seeds } from './arbitraries/stream.js';
import { propertySeed, readConfig, runsPerProperty, type FuzzConfig } from './config.js';
import { FuzzEnvironment, type World } from './environment.js';
import { authStillRefused, FuzzViolation, runCase, type FuzzProperty } from './run.js';

const CALLERS: CallerKind[] = ['server', 'user', 'anonymous'];
/** The dashboard's routes are also called by a signed-in operator (its session cookie and CSRF token). */
const callersOf = (path: string): CallerKind[] => (/^\/dashboard(\/|$)/.test(path) ? [...CALLERS, 'operator'] : CALLERS);

/**
 * The fuzz test files, one per group of routes, each named after its shard (test/fuzz/<shard>.test.ts). A route
 * belongs to the first shard whose pattern matches its path; `other` takes the rest, so every route is in one.
 */
export const SHARDS = {
  dashboard: /^\/dashboard(\/|$)/,
  'users-v2': /^\/api\/v2\/users/,
  'users-v1': /^\/users/,
  other: /./,
} as const;
export type Shard = keyof typeof SHARDS;

export function shardOf(path: string): Shard {
  return (Object.keys(SHARDS) as Shard[]).find((shard) => SHARDS[shard].test(path))!;
}

/** fast-check's report, bounded and to the point: our own case description instead of the raw counterexample. */
function reporter(config: FuzzConfig, property: FuzzProperty, shard: Shard) {
  return (details: fc.RunDetails<[FuzzRequest]>) => {
    if (!details.failed) return;
    const error = details.errorInstance;
    const what =
      error instanceof FuzzViolation ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error ?? 'interrupted');
    throw new Error(
      `fuzz property "${property.name}" failed after ${details.numRuns} cases and ${details.numShrinks} shrinks:\n${what}\n\n` +
        `seed ${config.seed}, path ${details.counterexamplePath}; replay with\n` +
        `  FUZZ_SEED=${config.seed} FUZZ_ONLY='${property.name}' FUZZ_PATH='${details.counterexamplePath}' npx vitest run test/fuzz/${shard}.test.ts`,
    );
  };
}

/** Defines the shard's fuzz suite, on a fuzz environment (app and database) of its own. */
export async function defineFuzzSuite(shard: Shard): Promise<void> {
  const config = readConfig();
  const env = await FuzzEnvironment.create();

  const allProperties = env.routes.flatMap((route) => callersOf(route.path).map((caller) => ({ route, caller, name: `${caller} ${route.method} ${route.path}` })));
  // FUZZ_ONLY names one property exactly (as a replay command does), or else selects those whose name contains it.
  const exact = allProperties.filter((property) => property.name === config.only);
  const selected = exact.length > 0 ? exact : allProperties.filter((property) => !config.only || property.name.includes(config.only));
  const properties = selected.filter((property) => shardOf(property.route.path) === shard);
  // Counted over every shard's properties: the same number of cases per route and caller as a single suite.
  const runs = runsPerProperty(config, allProperties.length);
  // A case takes a few milliseconds; the slowest (huge or deep bodies, shrinking) far more. Generous, but bounded.
  const timeoutMs = 90_000 + runs * 500;

  console.log(
    `fuzz ${shard}: seed ${config.seed}${config.randomSeed ? ' (random)' : ''}, ${runs} cases for each of ${properties.length} routes × callers ` +
      `(${runs * properties.length} in all), on ${env.database.backend}${config.path ? `; replaying path ${config.path}` : ''}`,
  );

  function seedsOf(world: World): Seeds {
    return {
      userIds: [...world.active, world.deactivated, world.deleted, world.missing],
      taskIds: world.taskIds,
      teams: ['red', 'blue', 'green'],
      operator: env.operator,
    };
  }

  describe(`fuzz ${shard} (${env.database.backend})`, () => {
    afterAll(async () => {
      await env.close();
    });

    if (shard === 'other') it('fuzzes every route the app serves, each in one shard', () => {
      const all = servedRoutes(env.app);
      const served = all.filter((route) => !(route.startsWith('HEAD ') && all.includes(route.replace(/^HEAD /, 'GET '))));
      expect(allProperties.map((p) => p.name).sort()).toEqual(served.flatMap((route) => callersOf(route.split(' ')[1]!).map((caller) => `${caller} ${route}`)).sort());
      // The dashboard is served, and fuzzed with its operator too.
      expect(allProperties.filter((p) => p.caller === 'operator').length).toBeGreaterThan(20);
      // The OpenAPI document describes the app's routes; a route it misses would still be fuzzed, with generic inputs.
      expect(env.routes.filter((route) => route.operation).length).toBeGreaterThan(0);
      // Every shard has routes of its own (a pattern that no longer matches any would leave its file empty).
      expect(new Set(allProperties.map((p) => shardOf(p.route.path)))).toEqual(new Set(Object.keys(SHARDS)));
    });

    if (shard === 'other') it('gives routes the OpenAPI document does not describe generic inputs (query strings, JSON and form bodies, cookies)', async () => {
      const bare = Fastify();
      bare.get('/dashboard', async () => 'ok');
      bare.post('/dashboard/users/:user_id', async () => 'ok');
      await bare.ready();
      const routes = describeRoutes(bare);
      await bare.close();
      expect(routes.map((route) => `${route.method} ${route.path} ${route.operation ? 'described' : 'generic'}`)).toEqual([
        'GET /dashboard generic',
        'POST /dashboard/users/:user_id generic',
      ]);
      const samples = fc.sample(requestArbitrary(routes[1]!, 'user', seedsOf(env.world)), { numRuns: 300, seed: config.seed });
      expect(samples.some((request) => request.headers['content-type']?.startsWith('application/x-www-form-urlencoded'))).toBe(true);
      expect(samples.some((request) => request.headers['content-type']?.startsWith('application/json'))).toBe(true);
      expect(samples.some((request) => request.headers.cookie)).toBe(true);
      expect(samples.some((request) => request.url.split('?')[1]?.includes('&'))).toBe(true);
    });

    for (const { route, caller, name } of properties) {
      it(
        name,
        async () => {
          if (env.deadSince) await env.revive();
          else await env.reset();
          const property: FuzzProperty = { name, caller };
          const violations: FuzzViolation[] = [];
          const arbitrary = fc.limitShrink(requestArbitrary(route, caller, seedsOf(env.world)), config.maxShrinks);
          await fc.assert(
            fc.asyncProperty(arbitrary, async (request) => {
              // Once a case broke the database, later ones are skipped: shrinking (which cannot revive the database
              // for each candidate) stops there, and the report and its replay path are those of the breaking case.
              fc.pre(!env.deadSince);
              try {
                await runCase(env, property, request);
              } catch (error) {
                if (!(config.collect && error instanceof FuzzViolation)) throw error;
                // Collecting: note it and go on, so that one run finds every distinct failure of the route.
                violations.push(error);
                appendFileSync(config.collect, `${JSON.stringify({ property: name, backend: env.database.backend, problems: error.problems, report: error.report })}\n`);
                if (env.deadSince) await env.revive();
              }
            }),
            { seed: propertySeed(config.seed, name), numRuns: runs, path: config.path, reporter: reporter(config, property, shard) },
          );
          expect(violations.length, `${violations.length} violations, written to ${config.collect}; the first:\n${violations[0]?.message}`).toBe(0);
          if (!env.deadSince) expect(await authStillRefused(env)).toBeUndefined();
        },
        timeoutMs,
      );
    }

    it('leaves the process serving and its database answering', async () => {
      // A database broken by the last property was reported by it; this checks the process on a working one.
      if (env.deadSince) await env.revive();
      const health = await env.app.inject({ method: 'GET', url: '/healthz' });
      expect(health.statusCode).toBe(200);
      const ready = await env.app.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode, ready.body).toBe(200);
      const result = await sql<{ one: number }>`SELECT 1 AS one`.execute(env.database.db);
      expect(result.rows).toEqual([{ one: 1 }]);
    });
  });
}
