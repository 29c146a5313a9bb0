// The API reference for people: GET /docs renders openapi.yaml with Swagger UI (@fastify/swagger-ui), every asset
// served from the package (operators often have no internet; the page's CSP allows nothing but this server), and
// GET /openapi.yaml serves the spec as checked in. The spec is the one generated from the schemas the server
// validates with (npm run openapi; test/api/openapi.test.ts fails on drift).
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { projectPath } from '../lib/paths.js';

export const OPENAPI_PATH = projectPath('openapi.yaml');

const CSP = {
  'default-src': ["'self'"],
  'base-uri': ["'self'"],
  'connect-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'", 'data:'],
  'object-src': ["'none'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  // Swagger UI (React) sets style attributes.
  'style-src': ["'self'", "'unsafe-inline'"],
  'frame-ancestors': ["'self'"],
};

export function registerSpecRoute(app: FastifyInstance) {
  const text = readFileSync(OPENAPI_PATH, 'utf8');
  app.get(
    '/openapi.yaml',
    {
      config: { public: true },
      schema: {
        operationId: 'GetOpenapiSpec',
        summary: 'This API as OpenAPI 3.1',
        description: 'The OpenAPI document this server was built with (the one /docs renders). Needs no credentials and is not rate limited.',
        tags: ['operations'],
        security: [],
        response: { 200: { description: 'openapi.yaml', content: { 'application/yaml': { schema: { type: 'string' } } } } },
      },
    },
    async (_request, reply) => reply.type('application/yaml; charset=utf-8').send(text),
  );
}

/** Swagger UI at /docs, in its own context: the spec is read from openapi.yaml, and its routes skip API auth. */
export async function docsPlugin(app: FastifyInstance) {
  app.addHook('onRoute', (route) => {
    route.config = { ...(route.config as object), public: true };
  });
  await app.register(swagger, {
    mode: 'static',
    specification: {
      path: OPENAPI_PATH,
      baseDir: dirname(OPENAPI_PATH),
      // "Try it out" calls the server the page came from, whatever address the operator reached it by. Changed once
      // here, not per request (swagger-ui's transformSpecification): the plugin then keeps the document and its YAML
      // text, where a transform cloned the document and wrote it out as YAML (about 30 ms of CPU) for every anonymous
      // GET /docs/yaml.
      postProcessor: (spec) => ({ ...spec, servers: [{ url: '/', description: 'this server' }] }),
    },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: CSP,
    uiConfig: { deepLinking: true, displayOperationId: true, docExpansion: 'list', filter: true, tryItOutEnabled: false },
    theme: { title: 'Stream-compatible users API' },
  });
}
