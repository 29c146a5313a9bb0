import { StreamChat } from 'stream-chat';
import { it, expect } from 'vitest';
import { API_KEY, API_SECRET, startServer } from '../helpers/server.js';
it('big', async () => {
  const server = await startServer({ worker: false });
  const s = new StreamChat(API_KEY, API_SECRET, { baseURL: server.baseUrl });
  const c = new StreamChat(API_KEY, { baseURL: server.baseUrl, allowServerSideConnect: true });
  const custom: Record<string, string> = {};
  for (let i = 0; i < 45; i++) custom['field' + i] = '{"x": "' + 'a b'.repeat(20) + '"}';
  console.log('json bytes', JSON.stringify(custom).length);
  const t = Date.now();
  try { await c.connectUser({ id: 'big', ...custom } as any, s.createToken('big')); console.log('ok'); } catch (e) { console.log('failed', Date.now() - t, (e as Error).message); }
  await c.disconnectUser();
  await server.close();
}, 60000);
