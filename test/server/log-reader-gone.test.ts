// A server whose log reader goes away mid-shutdown (its supervisor died, `… | head`, the pipe `npx` left behind)
// still exits on SIGTERM. With pino's asynchronous destination it did not: the exit flush retried the broken pipe
// forever, and the process stayed up with its memory after the pipe's reader had closed it between two log lines.
// backend-independent: the server runs in memory mode (--memory), whatever the database under test.
import { afterAll, describe, expect, it } from 'vitest';
import { runNode, type Child } from '../helpers/process.js';

const ROUNDS = 2;

describe('a server whose log pipe breaks while it shuts down', () => {
  const children: Child[] = [];
  afterAll(async () => {
    await Promise.all(children.map((child) => child.kill('SIGKILL')));
  });

  it('exits 0 on SIGTERM, every time', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      // A drain delay of its own, so that the pipe breaks after the first shutdown line and before the last ones.
      const child = runNode(['dist/server.mjs', '--memory', '--port', '0', '--json'], { SHUTDOWN_DRAIN_MS: '300' });
      children.push(child);
      await child.waitFor(/"api_secret"/, 60_000);
      child.process.kill('SIGTERM');
      await child.waitFor(/shutting down: draining/);
      child.process.stdout!.destroy();
      child.process.stderr!.destroy();
      const outcome = await Promise.race([child.exited, new Promise((resolve) => setTimeout(() => resolve('still running after 15 s'), 15_000))]);
      expect(outcome).toBe(0);
    }
  }, 120_000);
});
