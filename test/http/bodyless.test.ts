// Raw clients may POST without a body where every field is optional: that is an empty object, not an error.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ worker: false });
});
afterAll(async () => {
  await server?.close();
});

it('accepts a bodyless POST on routes whose body is all optional, and still requires required fields', async () => {
  await server.client.upsertUsers([{ id: 'no-body' }]);
  const deactivated = await server.request('POST', '/api/v2/users/no-body/deactivate');
  expect(deactivated.status).toBe(201);
  expect(deactivated.body.user.id).toBe('no-body');
  const reactivated = await server.request('POST', '/users/no-body/reactivate');
  expect(reactivated.status).toBe(201);
  const missing = await server.request('POST', '/api/v2/users');
  expect(missing.status).toBe(400);
  expect(missing.body.code).toBe(4);
});
