// Client addresses (TRUST_PROXY, IPv6 /64 keys) and the per-request decision of what is served only to this machine:
// /metrics without a token, and the dashboard by default.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { credentialsOf } from '../../src/auth/core.js';
import { loadConfig, plainHttpDashboardWarning } from '../../src/config.js';
import { addressKey, parseTrustProxy } from '../../src/lib/network.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { API_KEY, API_SECRET } from '../helpers/server.js';

describe('TRUST_PROXY and address keys', () => {
  it('reads a hop count, on/off, or a list of addresses and CIDRs, and refuses anything else', () => {
    expect(parseTrustProxy(undefined)).toBe(false);
    expect(parseTrustProxy('off')).toBe(false);
    expect(parseTrustProxy('on')).toBe(1);
    expect(parseTrustProxy('2')).toBe(2);
    expect(parseTrustProxy('10.0.0.0/8, 127.0.0.1,loopback')).toEqual(['10.0.0.0/8', '127.0.0.1', 'loopback']);
    expect(() => parseTrustProxy('not-an-address')).toThrow(/TRUST_PROXY/);
    expect(loadConfig({ TRUST_PROXY: '192.168.0.0/16' }).trustProxy).toEqual(['192.168.0.0/16']);
  });

  it('keys IPv6 addresses by their /64 and IPv4-mapped ones as IPv4', () => {
    expect(addressKey('2001:db8:1:2::1')).toBe(addressKey('2001:0DB8:0001:0002:ffff:ffff:ffff:ffff'));
    expect(addressKey('2001:db8:1:2::1')).not.toBe(addressKey('2001:db8:1:3::1'));
    expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('fe80::1%eth0')).toBe(addressKey('fe80::2'));
    expect(addressKey('203.0.113.9')).toBe('203.0.113.9');
  });
});

describe('served only to this machine, decided per request', () => {
  let database: TestDatabase;
  let app: FastifyInstance;
  beforeAll(async () => {
    database = await createTestDatabase();
    app = await buildApp({
      db: database.db,
      credentials: credentialsOf(API_KEY, API_SECRET),
      logger: false,
      publicUrl: 'https://users.example.com',
      metrics: { localOnly: { publicUrl: 'https://users.example.com' } },
      dashboard: { localOnly: true },
    });
  });
  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  const get = (url: string, options: { host?: string; remoteAddress?: string; headers?: Record<string, string> } = {}) =>
    app.inject({ method: 'GET', url, remoteAddress: options.remoteAddress ?? '127.0.0.1', headers: { host: options.host ?? 'localhost:3030', ...options.headers } });

  it('answers a loopback peer that names a loopback host or PUBLIC_URL\'s host', async () => {
    for (const host of ['localhost:3030', '127.0.0.1:3030', '[::1]:3030', 'users.example.com']) {
      expect((await get('/metrics', { host })).statusCode, host).toBe(200);
      expect((await get('/dashboard/sign-in', { host })).statusCode, host).toBe(200);
    }
    expect((await get('/metrics', { remoteAddress: '::1' })).statusCode).toBe(200);
  });

  it('answers 404 to another host name (DNS rebinding), a forwarded request (a local proxy) or another peer', async () => {
    const cases: Array<{ host?: string; remoteAddress?: string; headers?: Record<string, string> }> = [
      { host: 'evil.example' },
      { host: 'evil.example:3030' },
      { headers: { 'x-forwarded-for': '203.0.113.9' } },
      { headers: { forwarded: 'for=203.0.113.9' } },
      { headers: { 'x-real-ip': '203.0.113.9' } },
      { remoteAddress: '203.0.113.9' },
      { remoteAddress: '10.0.0.1', host: 'localhost' },
    ];
    for (const options of cases) {
      const metrics = await get('/metrics', options);
      expect(metrics.statusCode, JSON.stringify(options)).toBe(404);
      expect(metrics.json()).toMatchObject({ code: 16, StatusCode: 404 });
      expect(metrics.body).not.toContain('stream_http_requests_total');
      const dashboard = await get('/dashboard/sign-in', options);
      expect(dashboard.statusCode, JSON.stringify(options)).toBe(404);
      expect(dashboard.body).not.toContain('api_secret');
    }
  });

  it('sends Strict-Transport-Security from the dashboard when its public URL is https', async () => {
    const page = await get('/dashboard/sign-in');
    expect(page.headers['strict-transport-security']).toBe('max-age=31536000');
  });

  it('warns at start when DASHBOARD=on is served on a non-loopback HOST without an https PUBLIC_URL', () => {
    expect(plainHttpDashboardWarning(loadConfig({ DASHBOARD: 'on', HOST: '0.0.0.0' }))).toMatch(/PUBLIC_URL/);
    expect(plainHttpDashboardWarning(loadConfig({ DASHBOARD: 'on', HOST: '0.0.0.0', PUBLIC_URL: 'http://x.example' }))).toMatch(/PUBLIC_URL/);
    expect(plainHttpDashboardWarning(loadConfig({ DASHBOARD: 'on', HOST: '0.0.0.0', PUBLIC_URL: 'https://x.example' }))).toBeUndefined();
    expect(plainHttpDashboardWarning(loadConfig({ DASHBOARD: 'on', HOST: '127.0.0.1' }))).toBeUndefined();
    expect(plainHttpDashboardWarning(loadConfig({ HOST: '0.0.0.0' }))).toBeUndefined();
  });
});
