// Request logs never hold credentials: export links' signatures, tokens in query strings (WebSocket connects carry
// one), token-like values anywhere in a URL; headers are not logged at all.
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redactUrl, logSerializers } from '../../src/http/logging.js';
import { serverToken, startTestServer, type TestServer } from '../helpers/server.js';

describe('redactUrl', () => {
  it('replaces credential parameters and token-like values, and keeps the rest', () => {
    expect(redactUrl('/exports/users/f.ndjson?expires=1&signature=abcdef')).toBe('/exports/users/f.ndjson?expires=1&signature=[redacted]');
    expect(redactUrl('/connect?json=%7B%7D&api_key=k&authorization=eyJa.eyJb.c&stream-auth-type=jwt')).toBe(
      '/connect?json=%7B%7D&api_key=k&authorization=[redacted]&stream-auth-type=jwt',
    );
    expect(redactUrl('/api/v2/users?payload={"t":"eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoiYSJ9.sig"}')).toBe('/api/v2/users?payload={"t":"[redacted]"}');
    expect(redactUrl('/api/v2/users?Token=1&x=2')).toBe('/api/v2/users?Token=[redacted]&x=2');
    expect(redactUrl('/healthz')).toBe('/healthz');
  });
});

describe('request logs', () => {
  let server: TestServer;
  let logged = '';
  beforeAll(async () => {
    const stream = new Writable({
      write(chunk, _encoding, done) {
        logged += chunk.toString();
        done();
      },
    });
    server = await startTestServer({ logger: pino({ level: 'info', serializers: logSerializers }, stream) });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('holds no signature, token or Authorization header', async () => {
    const token = serverToken();
    await server.request('GET', '/exports/users/00000000-0000-0000-0000-000000000000.ndjson', {
      query: { expires: '1', signature: 'f'.repeat(64) },
      headers: { 'stream-auth-type': '', authorization: '' },
    });
    await server.request('GET', '/api/v2/users', { query: { authorization: token }, headers: { authorization: token } });
    // One line per request, when it is answered, with the request (redacted) and the status.
    const lines = logged.trim().split('\n').map((line) => JSON.parse(line) as { msg: string; req?: { method: string; url: string }; res?: { statusCode: number } });
    const requestLines = lines.filter((line) => line.req !== undefined || line.res !== undefined);
    expect(requestLines.map((line) => [line.msg, line.req?.method, line.req?.url.split('?')[0], line.res?.statusCode])).toEqual([
      ['request completed', 'GET', '/exports/users/00000000-0000-0000-0000-000000000000.ndjson', 403],
      ['request completed', 'GET', '/api/v2/users', 200],
    ]);
    expect(logged).toContain('signature=[redacted]');
    expect(logged).not.toContain('f'.repeat(64));
    expect(logged).not.toContain(token);
    expect(logged).not.toContain(token.split('.')[2]);
  });
});
