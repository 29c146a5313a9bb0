// The README's curl walkthrough, run as it stands: its blocks are taken from README.md and run in order, in one bash,
// with the real curl, against a server started as `npm start` starts it on a fresh embedded database. Each block is
// preceded by `<!-- walkthrough: <status> <text> -->`: the HTTP status of its last curl, and a text its output holds.
// A README edit that breaks a block fails here.
// backend-independent: the README's curl walkthrough against `npm start` on the embedded default.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runServer, type Child } from '../helpers/process.js';
import { freePort } from '../helpers/ports.js';

interface Block {
  status: number;
  expected: string;
  script: string;
}

/** The walkthrough's blocks, in order. */
export function walkthroughBlocks(readme: string): Block[] {
  const start = readme.indexOf('## curl walkthrough');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/<!-- walkthrough: (\d{3}) (.+?) -->\n```bash\n([\s\S]*?)```/g)].map((match) => ({
    status: Number(match[1]),
    expected: match[2]!,
    script: match[3]!,
  }));
}


const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'walkthrough-'));
const headers = path.join(dataDir, 'last-headers');
let server: Child;
let base: string;

beforeAll(async () => {
  const port = await freePort();
  server = runServer({ DATA_DIR: dataDir, PORT: String(port), WS_PORT: '0', STREAM_API_KEY: '', STREAM_API_SECRET: '' });
  base = (await server.waitFor(/serving the Stream users API on (http:\/\/[\d.:]+)/, 60_000))[1]!;
}, 90_000);
afterAll(async () => {
  await server?.kill('SIGTERM');
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** Runs the blocks in one bash and returns, per block, what it printed and the status of its last curl. */
function runBlocks(blocks: Block[]): Promise<Array<{ output: string; status: number }>> {
  // curl is wrapped to keep each call's response headers, so that the status of a block's last call can be read.
  const script = [
    `curl() { command curl -D ${JSON.stringify(headers)} "$@"; }`,
    ...blocks.flatMap((block, i) => [`echo "@@block ${i}"`, `: > ${JSON.stringify(headers)}`, block.script, 'echo', `echo "@@status $(head -n 1 ${JSON.stringify(headers)})"`]),
  ].join('\n');
  return new Promise((resolve, reject) => {
    const bash = spawn('bash', ['-c', script], { cwd: ROOT, env: { ...process.env, DATA_DIR: dataDir, BASE: base, DATABASE_URL: '' } });
    let output = '';
    bash.stdout.on('data', (chunk) => (output += chunk));
    bash.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => bash.kill('SIGKILL'), 120_000);
    bash.on('close', () => {
      clearTimeout(timer);
      const parts = output.split(/^@@block \d+\n/m).slice(1);
      if (parts.length !== blocks.length) return reject(new Error(`ran ${parts.length} of ${blocks.length} blocks:\n${output}`));
      resolve(
        parts.map((part) => {
          const status = /^@@status HTTP\/[\d.]+ (\d{3})/m.exec(part);
          return { output: part.replace(/^@@status.*$/m, ''), status: status ? Number(status[1]) : 0 };
        }),
      );
    });
  });
}

describe('the README curl walkthrough', () => {
  it('covers every operation of the user-management guide, in order', () => {
    const blocks = walkthroughBlocks(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
    const scripts = blocks.map((block) => block.script).join('\n');
    for (const path of ['POST "$BASE/api/v2/users', '-X PATCH "$BASE/api/v2/users', "payload=", '/deactivate?', '/reactivate?', '/users/deactivate?', '/users/delete?', '/users/restore?', '/export/users?', '/guest?', 'no-such-user']) {
      expect(scripts, path).toContain(path);
    }
  });

  it('runs block by block with curl, each answering its status and holding its key field', async () => {
    const blocks = walkthroughBlocks(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
    expect(blocks.length).toBeGreaterThanOrEqual(10);
    const results = await runBlocks(blocks);
    blocks.forEach((block, i) => {
      const { output, status } = results[i]!;
      expect(status, `block ${i + 1}:\n${block.script}\n${output}`).toBe(block.status);
      expect(output, `block ${i + 1}:\n${block.script}`).toContain(block.expected);
    });
  }, 150_000);
});
