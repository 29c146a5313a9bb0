// The routes an app serves, read from the app itself (Fastify's route tree), and what the OpenAPI document the app
// generates says about each: shared by test/openapi.test.ts (the spec lists exactly the served routes) and the fuzz
// suite (every served route is fuzzed, so a new route is fuzzed without editing the suite).
import type { FastifyInstance, HTTPMethods } from 'fastify';

/** "METHOD /path" for every route the app serves, read from Fastify's route tree (HEAD twins of GET included). */
export function servedRoutes(app: FastifyInstance): string[] {
  const routes: string[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([│├└─\s]*[├└]── )(\S+)(?: \(([^)]*)\))?$/u.exec(line.trimEnd());
    if (!match) continue;
    const depth = match[1]!.length / 4 - 1;
    stack.length = depth;
    stack.push(match[2]!);
    const path = stack.join('');
    for (const method of (match[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean)) routes.push(`${method} ${path}`);
  }
  return routes.sort();
}

/** OpenAPI `{param}` → Fastify `:param`. */
export function fastifyPath(path: string): string {
  return path.replace(/\{([^}]+)\}/g, ':$1');
}

/** A JSON Schema as the generated OpenAPI document has it, with every local `$ref` resolved. */
export type JsonSchema = { [key: string]: unknown };

export interface RouteParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required: boolean;
  schema: JsonSchema;
  /** The parameter is a JSON document in a string (QueryUsers' `payload`). */
  json: boolean;
}

export interface DescribedRoute {
  method: HTTPMethods;
  /** Fastify's form: `/api/v2/users/:user_id/export`. */
  path: string;
  /** `:name` segments of the path, in order. */
  pathParams: string[];
  /** What the OpenAPI document says; undefined for a route it does not describe (generic inputs only). */
  operation?: {
    operationId?: string;
    parameters: RouteParameter[];
    body?: JsonSchema;
  };
  /** An HTML form route (the dashboard's, left out of the document): the schemas of its query string and form body. */
  form?: { querystring?: JsonSchema; body?: JsonSchema };
}

type OpenapiOperation = {
  operationId?: string;
  parameters?: Array<{ name: string; in: RouteParameter['in']; required?: boolean; schema?: JsonSchema; content?: Record<string, { schema?: JsonSchema }> }>;
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
};
export type OpenapiDocument = {
  paths?: Record<string, Record<string, OpenapiOperation>>;
  components?: { schemas?: Record<string, JsonSchema> };
};

/**
 * Replaces every `#/components/schemas/X` reference by (a copy of) X. A schema that refers to itself is cut off
 * after a few levels with `{}` (any value), which is all a generator needs.
 */
export function resolveRefs(schema: unknown, components: Record<string, JsonSchema>, seen: string[] = []): any {
  if (Array.isArray(schema)) return schema.map((item) => resolveRefs(item, components, seen));
  if (!schema || typeof schema !== 'object') return schema;
  const ref = (schema as { $ref?: unknown }).$ref;
  if (typeof ref === 'string') {
    const name = /^#\/components\/schemas\/(.+)$/.exec(ref)?.[1];
    const target = name ? components[name] : undefined;
    if (!name || !target || seen.filter((s) => s === name).length >= 2) return {};
    return resolveRefs(target, components, [...seen, name]);
  }
  const copy: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) copy[key] = resolveRefs(value, components, seen);
  return copy;
}

/**
 * Every route the app serves, with its schemas from `document` (the app's own OpenAPI document) where it has them.
 * HEAD twins of GET routes are left out (Fastify answers them by itself, with the GET handler).
 */
export function describeRoutes(app: FastifyInstance, document: OpenapiDocument = {}): DescribedRoute[] {
  const components = document.components?.schemas ?? {};
  const operations = new Map<string, OpenapiOperation>();
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const [method, operation] of Object.entries(item)) operations.set(`${method.toUpperCase()} ${fastifyPath(path)}`, operation);
  }
  const served = servedRoutes(app);
  const routes: DescribedRoute[] = [];
  for (const route of served) {
    const [method, path] = route.split(' ') as [HTTPMethods, string];
    if (method === 'HEAD' && served.includes(`GET ${path}`)) continue;
    const pathParams = [...path.matchAll(/:([^/]+)/g)].map((m) => m[1]!);
    const operation = operations.get(route);
    routes.push({
      method,
      path,
      pathParams,
      operation: operation && {
        operationId: operation.operationId,
        parameters: (operation.parameters ?? []).map((parameter) => {
          const content = parameter.content?.['application/json']?.schema;
          return {
            name: parameter.name,
            in: parameter.in,
            required: Boolean(parameter.required),
            schema: resolveRefs(content ?? parameter.schema ?? {}, components),
            json: Boolean(content),
          };
        }),
        body: operation.requestBody?.content?.['application/json']?.schema
          ? resolveRefs(operation.requestBody.content['application/json'].schema, components)
          : undefined,
      },
    });
  }
  return routes;
}
