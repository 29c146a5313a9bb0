// Shared by the v1 tests (test/*/v1.test.ts): the real `stream-chat` client, server-side, pointed at a test server.
import { StreamChat } from 'stream-chat';
import { expect } from 'vitest';
import { API_KEY, API_SECRET, type TestServer } from './server.js';

/** RFC3339 with microseconds and Z, as the v1 paths write every date-time. */
export const RFC3339_MICROS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

/** A server-side stream-chat client (with the secret). `new`, not getInstance: that one is a process-wide singleton. */
export function serverSideChat(server: TestServer): StreamChat {
  return new StreamChat(API_KEY, API_SECRET, { baseURL: server.baseUrl, timeout: 10_000 });
}

/** Polls a task with stream-chat's getTask, as its users do, until it is completed or failed. */
export async function waitForTaskV1(chat: StreamChat, taskId: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const task = await chat.getTask(taskId);
    if (task.status === 'completed' || task.status === 'failed') return task;
    if (Date.now() > deadline) throw new Error(`task ${taskId} still ${task.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The error stream-chat throws for a Stream error response: `StreamChat error code <code>: <message>`. */
export async function chatError(promise: Promise<unknown>): Promise<{ code: number; status: number; message: string; body: any }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { code?: number; status?: number; message: string; response?: { data?: unknown } };
    expect(e.message).toMatch(/^StreamChat error code -?\d+: /);
    return { code: e.code!, status: e.status!, message: e.message.replace(/^StreamChat error code -?\d+: /, ''), body: e.response?.data };
  }
  throw new Error('expected the request to fail');
}

/** Every date-time field of a v1 user is an RFC3339 string with microseconds. */
export function expectV1Dates(user: Record<string, unknown>) {
  for (const field of ['created_at', 'updated_at', 'last_active', 'deactivated_at', 'deleted_at', 'ban_expires', 'revoke_tokens_issued_before']) {
    if (field in user) expect(user[field], field).toMatch(RFC3339_MICROS);
  }
  expect(user).not.toHaveProperty('custom');
}
