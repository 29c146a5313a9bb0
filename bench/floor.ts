// The transport floor of POST /api/v2/users (transport-floor-server.mjs) as a process of its own: what any Node server
// that receives the same request, runs one upsert of the same shape through pg and sends the same answer bytes spends,
// doing nothing else. The upsert section measures it beside the server in every round, the query section beside each
// request (the floor of a query's time outside its SQL); transport-floor.ts runs the upsert's two alone, for a quick look.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SESSION_SETTINGS } from '../src/db/database.js';
import { BenchClient } from './http.js';
import { ROOT } from './server.js';

export interface TransportFloor {
  client: BenchClient;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts the floor on `databaseUrl`, answering every upsert with `answer` (the real server's bytes for a batch) and
 * every POST /query of a shape with `queryAnswers`' bytes for it (the real server's answer to that shape).
 */
export async function startTransportFloor(
  databaseUrl: string,
  answer: Buffer,
  workDir: string,
  sockets: number,
  queryAnswers: ReadonlyMap<string, Buffer> = new Map(),
): Promise<TransportFloor> {
  const responseFile = path.join(workDir, 'floor-response.json');
  fs.writeFileSync(responseFile, answer);
  const queryAnswersFile = path.join(workDir, 'floor-query-answers.json');
  fs.writeFileSync(queryAnswersFile, JSON.stringify(Object.fromEntries([...queryAnswers].map(([shape, bytes]) => [shape, bytes.toString('base64')]))));
  const child = spawn(process.execPath, [path.join(ROOT, 'bench', 'transport-floor-server.mjs')], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      FLOOR_PG_OPTIONS: SESSION_SETTINGS,
      FLOOR_RESPONSE: responseFile,
      FLOOR_QUERY_ANSWERS: queryAnswersFile,
      FLOOR_POOL: String(sockets),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the transport floor exited with ${code} before it listened`)));
    child.stdout!.once('data', (line) => resolve(JSON.parse(String(line)).port));
  });
  // The floor checks no credentials: any token does.
  const client = await BenchClient.create(`http://127.0.0.1:${port}`, 'floor', 'floor-secret', sockets);
  return {
    client,
    pid: child.pid!,
    async stop() {
      client.close();
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
