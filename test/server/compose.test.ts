// docker-compose.yml, checked without docker (CI also runs `docker compose config` where docker exists): the server
// has a healthcheck on /readyz, waits for a healthy database, is given longer to stop than its own shutdown takes,
// and shows the operator switches as commented examples.
// backend-independent: reads docker-compose.yml.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.js';
import { ROOT } from '../helpers/process.js';

const text = readFileSync(`${ROOT}/docker-compose.yml`, 'utf8');
const compose = parse(text) as { services: Record<string, any> };

function seconds(duration: string): number {
  const match = /^(\d+)(ms|s|m)$/.exec(duration);
  if (!match) throw new Error(`unexpected duration ${duration}`);
  return Number(match[1]) * { ms: 0.001, s: 1, m: 60 }[match[2] as 'ms' | 's' | 'm'];
}

describe('docker-compose.yml', () => {
  it('checks the server on /readyz and starts it once the database is healthy', () => {
    const server = compose.services.server;
    expect(server.healthcheck.test.join(' ')).toContain('/readyz');
    expect(server.depends_on.postgres.condition).toBe('service_healthy');
    expect(compose.services.postgres.healthcheck).toBeDefined();
    expect(server.restart).toBe('unless-stopped');
  });

  it('gives the server longer to stop than its shutdown grace period', () => {
    const { shutdown } = loadConfig({ HOST: '0.0.0.0' });
    expect(seconds(compose.services.server.stop_grace_period)).toBeGreaterThan(shutdown.graceMs / 1000);
  });

  it('has a test double in memory, behind its own profile, ready when /readyz answers', () => {
    const double = compose.services['test-double'];
    expect(double.profiles).toEqual(['test']);
    expect(double.command).toContain('--memory');
    expect(double.environment.RATE_LIMITING).toBe('off');
    expect(double.healthcheck.test.join(' ')).toContain('/readyz');
    expect(double.depends_on).toBeUndefined();
  });

  it('shows METRICS_TOKEN and DASHBOARD as commented examples', () => {
    expect(text).toMatch(/^\s+# METRICS_TOKEN: /m);
    expect(text).toMatch(/^\s+# DASHBOARD: "on"/m);
  });
});
