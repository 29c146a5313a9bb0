// How openapi.yaml is generated: @fastify/swagger reads the routes' schemas (so the spec is made of what the server
// validates with), and finishOpenapi gives the document its final touches.
type OpenapiDocument = {
  paths?: Record<
    string,
    Record<string, { tags?: string[]; parameters?: Array<Record<string, unknown>>; responses?: Record<string, { description?: string }> }>
  >;
  components?: { schemas?: Record<string, unknown> };
  tags?: Array<{ name: string; description?: string }>;
};

const responseDescriptions: Record<string, string> = {
  '2': 'Success',
  '4': 'The request was rejected (Stream error envelope)',
  '5': 'The server failed (Stream error envelope)',
};

/** Final touches on the generated document, so that openapi.yaml reads well and lints clean. */
function finishOpenapi<T extends object>(document: T): T {
  // A JSON copy: no object is shared between two places, so the YAML has no anchors or aliases.
  const doc = JSON.parse(JSON.stringify(document)) as OpenapiDocument;
  for (const operations of Object.values(doc.paths ?? {})) {
    for (const operation of Object.values(operations)) {
      // A tag some route uses but openapiOptions does not declare is listed all the same.
      for (const tag of operation.tags ?? []) if (!doc.tags?.some((t) => t.name === tag)) (doc.tags ??= []).push({ name: tag });
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        if (response.description === 'Default Response') response.description = responseDescriptions[status[0]!] ?? response.description;
      }
      // A query parameter that carries a JSON-encoded component (QueryUsers' `payload`) is described by its content.
      for (const parameter of operation.parameters ?? []) {
        const name = /^JSON-encoded (\w+)$/.exec(String(parameter.description ?? ''))?.[1];
        if (!name || !doc.components?.schemas?.[name]) continue;
        delete parameter.schema;
        parameter.content = { 'application/json': { schema: { $ref: `#/components/schemas/${name}` } } };
      }
    }
  }
  return doc as T;
}

export const openapiOptions = {
  openapi: {
    openapi: '3.1.0',
    info: {
      title: 'Stream-compatible users API',
      version: '0.1.0',
      description: 'A self-hosted, drop-in replacement for the user-management endpoints of Stream (getstream.io).',
      license: { name: 'UNLICENSED' },
    },
    servers: [{ url: 'http://127.0.0.1:3030', description: 'a local server on the default port' }],
    tags: [
      { name: 'users', description: "Stream's v2 user-management endpoints" },
      { name: 'tasks', description: 'Asynchronous tasks started by the users endpoints' },
      { name: 'exports', description: "This server's signed download links for user exports" },
      { name: 'health', description: 'Probes for process supervisors and load balancers' },
      { name: 'operations', description: 'For operators: metrics and this document' },
      { name: 'v1', description: "Stream's v1 paths, as the stream-chat SDK calls them: custom fields flattened, RFC3339 date-times" },
    ],
    components: {
      securitySchemes: {
        api_key: { type: 'apiKey' as const, in: 'query' as const, name: 'api_key' },
        JWT: { type: 'apiKey' as const, in: 'header' as const, name: 'Authorization' },
        stream_auth_type: { type: 'apiKey' as const, in: 'header' as const, name: 'stream-auth-type' },
        metrics_token: { type: 'http' as const, scheme: 'bearer', description: 'METRICS_TOKEN, when the server has one' },
      },
    },
    security: [{ api_key: [], JWT: [], stream_auth_type: [] }],
  },
  refResolver: { buildLocalReference: (json: { $id?: string }, _baseUri: unknown, _fragment: unknown, i: number) => json.$id ?? `def-${i}` },
  transformObject: ((documentObject) =>
    'openapiObject' in documentObject
      ? finishOpenapi(documentObject.openapiObject)
      : documentObject.swaggerObject) satisfies import('@fastify/swagger').SwaggerTransformObject,
};
