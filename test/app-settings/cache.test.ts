// The settings cache. Instances on one database keep their cached settings in step through NOTIFY: a cache that would
// otherwise keep its copy for a minute drops it as soon as another one writes. And a read that was in flight while
// this process changed the settings is not kept: the change is seen at once, as the API promises.
import type { KyselyPlugin } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppSettingsCache } from '../../src/app-settings/service.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

describe('settings caches that follow each other', () => {
  let database: TestDatabase;
  const unsubscribe: Array<() => Promise<void>> = [];
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    for (const stop of unsubscribe) await stop();
    await database?.drop();
  });

  it('sees a change written through another cache at once, though its own copy is good for a minute', async () => {
    const writer = new AppSettingsCache(database.db, 60_000);
    const reader = new AppSettingsCache(database.db, 60_000);
    const bystander = new AppSettingsCache(database.db, 60_000);
    unsubscribe.push(await reader.follow(database.listen));
    expect((await reader.get()).enforce_unique_usernames).toBe('no');
    expect((await bystander.get()).enforce_unique_usernames).toBe('no');

    await writer.update({ enforce_unique_usernames: 'app' });
    const deadline = Date.now() + 1_000;
    while ((await reader.get()).enforce_unique_usernames !== 'app') {
      expect(Date.now(), 'the following cache sees the change').toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // (control) A cache that does not follow keeps its copy until its TTL.
    expect((await bystander.get()).enforce_unique_usernames).toBe('no');
  });

  it('does not keep what a read in flight during a change returned: the change is seen at once', async () => {
    const cache = new AppSettingsCache(database.db, 60_000);
    expect((await cache.get()).enforce_unique_usernames).toBe('app');
    cache.invalidate();
    // A read whose answer is held back until the change below has been written (the dispatcher's poll, say).
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const holdResults: KyselyPlugin = { transformQuery: (args) => args.node, transformResult: async (args) => (await gate, args.result) };
    const slowRead = cache.current(database.db.withPlugin(holdResults));
    await new Promise((resolve) => setTimeout(resolve, 50));

    await cache.update({ enforce_unique_usernames: 'team' });
    release();
    // The slow read may answer with either; what matters is what is kept.
    expect(['app', 'team']).toContain((await slowRead).enforce_unique_usernames);
    expect((await cache.get()).enforce_unique_usernames).toBe('team');
  });
});

