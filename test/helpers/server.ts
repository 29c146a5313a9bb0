// Starts the real server on an ephemeral port over a fresh database, and hands back an official SDK client.
import { createHmac } from 'node:crypto';
import { StreamClient } from '@stream-io/node-sdk';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppDeps } from '../../src/app.js';
import { credentialsOf } from '../../src/auth/core.js';
import { taskBatchHandlers, taskHandlers } from '../../src/tasks/handlers.js';
import { Worker, type WorkerOptions } from '../../src/tasks/worker.js';
import { WebhookDispatcher, type DispatcherOptions } from '../../src/webhooks/dispatcher.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export const API_KEY = 'testkey';
export const API_SECRET = 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

export interface TestServer {
  baseUrl: string;
  client: StreamClient;
  app: FastifyInstance;
  database: TestDatabase;
  /** The in-process task worker (absent when started with `worker: false`). */
  worker: Worker | undefined;
  /** The in-process webhook dispatcher (absent when started with `webhooks: false`). */
  dispatcher: WebhookDispatcher | undefined;
  /** Raw HTTP against the server with server-side auth unless headers say otherwise. */
  request(method: string, path: string, options?: { body?: unknown; headers?: Record<string, string>; query?: Record<string, string>; rawBody?: string }): Promise<{ status: number; headers: Headers; body: any; text: string }>;
  close(): Promise<void>;
}

export interface StartOptions extends Partial<AppDeps> {
  /** false: no worker; an object: worker settings to override. */
  worker?: false | Partial<WorkerOptions>;
  /** false: no webhook dispatcher; an object: dispatcher settings to override. */
  webhooks?: false | Partial<DispatcherOptions>;
}

export async function startServer(options: StartOptions = {}): Promise<TestServer> {
  const { worker: workerOptions, webhooks: dispatcherOptions, ...overrides } = options;
  const database = await createTestDatabase();
  const app = await buildApp({
    db: database.db,
    credentials: credentialsOf(API_KEY, API_SECRET),
    logger: false,
    poolState: database.poolState,
    listening: database.listening,
    // As server.ts does: on PostgreSQL the rate limits are counted in the database.
    sharedRateLimits: Boolean(database.url),
    ...overrides,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  const baseUrl = `http://127.0.0.1:${address.port}`;
  const client = new StreamClient(API_KEY, API_SECRET, { basePath: baseUrl, timeout: 10_000 });
  const worker =
    workerOptions === false
      ? undefined
      : new Worker({
          db: database.db,
          handlers: taskHandlers(app.services),
          batchHandlers: taskBatchHandlers(app.services),
          listen: database.listen,
          leaseMs: 30_000,
          concurrency: 4,
          pollMs: 500,
          backoffMs: 100,
          onOutcome: app.metrics?.taskOutcome,
          ...workerOptions,
        });
  await worker?.start();
  const dispatcher =
    dispatcherOptions === false
      ? undefined
      : new WebhookDispatcher({ db: database.db, credentials: () => ({ apiKey: API_KEY, apiSecret: API_SECRET }), listen: database.listen, pollMs: 500, onAttempt: app.metrics?.webhookOutcome, ...dispatcherOptions });
  await dispatcher?.start();
  return {
    baseUrl,
    client,
    app,
    database,
    worker,
    dispatcher,
    async request(method, path, options = {}) {
      const url = new URL(path, baseUrl);
      if (!('api_key' in (options.query ?? {}))) url.searchParams.set('api_key', API_KEY);
      for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, value);
      const headers: Record<string, string> = {
        'stream-auth-type': 'jwt',
        authorization: serverToken(),
        ...(options.body !== undefined || options.rawBody !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      };
      for (const [key, value] of Object.entries(headers)) if (value === '') delete headers[key];
      const response = await fetch(url, {
        method,
        headers,
        body: options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
      });
      const text = await response.text();
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = undefined;
      }
      return { status: response.status, headers: response.headers, body, text };
    },
    async close() {
      await worker?.stop();
      await dispatcher?.stop(1_000);
      await app.close();
      await database.drop();
    },
  };
}

function b64url(input: string | Buffer): string {
  return Buffer.from(input).toString('base64url');
}

/** Signs a JWT by hand, so tests can make tokens the SDK never would (other algorithms, bad signatures). */
export function signToken(payload: object, options: { secret?: string; header?: object } = {}): string {
  const header = b64url(JSON.stringify(options.header ?? { alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(payload));
  const signature = createHmac('sha256', options.secret ?? API_SECRET).update(`${header}.${body}`).digest('base64url');
  return `${header}.${body}.${signature}`;
}

export function serverToken(): string {
  return signToken({ server: true });
}

/** Polls a task as the SDK's users do until it is completed or failed. */
export async function waitForTask(client: StreamClient, taskId: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const task = await client.getTask({ id: taskId });
    if (task.status === 'completed' || task.status === 'failed') return task;
    if (Date.now() > deadline) throw new Error(`task ${taskId} still ${task.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
