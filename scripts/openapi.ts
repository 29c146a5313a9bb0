// Generates openapi.yaml from the route schemas: shared by `npm run openapi` (scripts/generate-openapi.ts) and
// test/openapi.test.ts, which checks that the committed file is what this produces.
import type { Kysely } from 'kysely';
import { buildApp } from '../src/app.js';
import { credentialsOf } from '../src/auth/core.js';
import { openDatabase } from '../src/db/database.js';
import type { Database } from '../src/db/schema.js';

export interface GenerateOpenapiOptions {
  /** A database handle to build the app over; by default a throwaway in-memory PGlite (the spec never queries it). */
  db?: Kysely<Database>;
}

/** Builds the app with @fastify/swagger registered and returns the OpenAPI document as YAML text. */
export async function generateOpenapi(options: GenerateOpenapiOptions = {}): Promise<string> {
  const database = options.db ? undefined : await openDatabase({ dataDir: 'memory://' });
  try {
    const app = await buildApp({
      db: options.db ?? database!.db,
      credentials: credentialsOf('openapi', 'openapi-generation-only-secret'),
      logger: false,
      openapi: true,
      // Every route a production server can serve: /metrics is described with the token it may ask for.
      metrics: { token: 'openapi-generation' },
    });
    try {
      await app.ready();
      return app.swagger({ yaml: true });
    } finally {
      await app.close();
    }
  } finally {
    await database?.close();
  }
}
