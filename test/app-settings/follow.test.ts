// Instances on one database keep their cached settings in step through NOTIFY: a cache that would otherwise keep its
// copy for a minute drops it as soon as another one writes.
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
});
