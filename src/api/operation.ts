// What declaring a Stream operation takes (operations.ts declares each one once): its name, its paths in the two
// families, who may call it, its request and response schemas, and the service call it makes. routes.ts renders each
// declaration as a Fastify route per family, and openapi.yaml is generated from those routes.
import type { Static, TSchema } from '@sinclair/typebox';
import type { FastifyBaseLogger } from 'fastify';
import type { Caller, CallerKind } from '../auth/core.js';
import type { ServiceContext } from '../context.js';
import type { Representation } from './representation.js';

/** A response body that is already JSON text (an object's), written as it is; `duration` is appended to it. */
export class JsonText {
  constructor(readonly text: string) {}
}

export interface HandlerInput<Params, Query, Body> {
  params: Params;
  query: Query;
  /** The body as validated by the family's schema; user-bearing parts go through `rep.userRequest`. */
  body: Body;
  caller: Caller;
  ctx: ServiceContext;
  rep: Representation;
  /** Base of links this response hands out (export downloads): PUBLIC_URL, else the request's own origin. */
  baseUrl: string;
  /** The request's logger (operator actions are logged). */
  log: FastifyBaseLogger;
}

/** Where an operation is served in one family, and how openapi.yaml describes it there. */
export interface Endpoint {
  path: string;
  summary: string;
  description?: string;
}


export interface Operation<P extends TSchema = TSchema, Q extends TSchema = TSchema, B extends TSchema = TSchema> {
  /** Stream's OperationId: error messages (`<name> failed with error: …`) and rate-limit buckets. */
  name: string;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** The OpenAPI tag of the v2 route (v1 routes are all tagged `v1`). */
  tag: string;
  v2?: Endpoint;
  v1?: Endpoint;
  /** Callers besides server-side ones that may call it. */
  access?: readonly CallerKind[];
  status: 200 | 201;
  params?: P;
  query?: Q;
  /** Bodies and responses are named schemas ($id): referenced by id, so that the v1 family can use its twin. */
  body?: B;
  /** The body may be left out altogether (it then reads as {}). */
  bodyOptional?: boolean;
  response: TSchema;
  handle(input: HandlerInput<Static<P>, Static<Q>, Static<B>>): Promise<object | JsonText>;
}

/** Declares an operation; the identity function, there for the types (each handler sees its own schemas' types). */
export function operation<P extends TSchema = TSchema, Q extends TSchema = TSchema, B extends TSchema = TSchema>(
  declaration: Operation<P, Q, B>,
): Operation {
  return declaration as unknown as Operation;
}
