// Starts the real server (src/runtime.ts) on an ephemeral port over a fresh database, and hands back an official SDK
// client.
import { createHmac } from 'node:crypto';
import { StreamClient } from '@stream-io/node-sdk';
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../../src/app.js';
import { credentialsOf } from '../../src/auth/core.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createRuntime } from '../../src/runtime.js';
import type { Worker, WorkerOptions } from '../../src/tasks/worker.js';
import type { DispatcherOptions, WebhookDispatcher } from '../../src/webhooks/dispatcher.js';
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
  /** Configuration values to override (the environment's are never read). */
  config?: Partial<Config>;
  /** Runs on the new database before the server starts on it (settings a start must already see). */
  prepare?: (database: TestDatabase) => Promise<void>;
}

/** The test servers' configuration: the defaults, on a free port, with quick polls and a short shutdown. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  const defaults = loadConfig({});
  // Two seconds for the dispatcher's sends in flight at close (the runtime keeps three of the grace for closing).
  return { ...defaults, port: 0, wsPort: 0, taskPollMs: 500, shutdown: { drainMs: 0, graceMs: 5_000 }, ...overrides };
}

export async function startTestServer(options: StartOptions = {}): Promise<TestServer> {
  const { worker: workerOptions, webhooks: dispatcherOptions, config, prepare, ...overrides } = options;
  const database = await createTestDatabase();
  await prepare?.(database);
  const runtime = await createRuntime(testConfig(config), {
    logger: false,
    database,
    credentials: credentialsOf(API_KEY, API_SECRET),
    // /metrics and the dashboard only for the tests that ask for them.
    app: { metrics: undefined, dashboard: undefined, ...overrides },
    worker: workerOptions === false ? false : { backoffMs: 100, ...workerOptions },
    webhooks: dispatcherOptions === false ? false : { pollMs: 500, ...dispatcherOptions },
  }).catch(async (error: unknown) => {
    await database.drop();
    throw error;
  });
  const { app, worker, dispatcher } = runtime;
  const baseUrl = runtime.address;
  const client = new StreamClient(API_KEY, API_SECRET, { basePath: baseUrl, timeout: 10_000 });
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
      await runtime.stop({ drainMs: 0 });
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
