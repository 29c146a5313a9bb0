// Route validators and serializers compiled on a route's first use instead of at start. Fastify compiles every route's
// schemas when the app gets ready, about 100 routes here: most of a start's time, for routes a process may never
// serve (a test double answers a few). Each compiler is Fastify's own, given the same schemas and options; only
// when it runs changes, so a route's first request pays its compilation (a few milliseconds).
import ValidatorSelector from '@fastify/ajv-compiler';
import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import type { FastifyServerOptions } from 'fastify';

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;

type Compile<F> = (route: never) => F;
type Factory<F> = (externalSchemas: unknown, options: unknown) => Compile<F>;

type Validator = ((data: unknown, context?: unknown) => unknown) & { errors?: unknown; schemaEnv?: unknown };

function lazyValidators(factory: Factory<Validator>): Factory<Validator> {
  return (externalSchemas, options) => {
    const compile = factory(externalSchemas, options);
    return (route) => {
      let validate: Validator | undefined;
      const compiled = () => (validate ??= compile(route));
      const wrapper = ((data: unknown, context?: unknown) => compiled()(data, context)) as Validator;
      // Fastify reads what Ajv's validators carry: the errors of the last call, and schemaEnv (whether the validator
      // may replace the root value, which Fastify then passes the parent for).
      Object.defineProperty(wrapper, 'errors', { get: () => compiled().errors });
      Object.defineProperty(wrapper, 'schemaEnv', { get: () => compiled().schemaEnv });
      return wrapper;
    };
  };
}

type Serializer = (data: unknown) => string;

function lazySerializers(factory: Factory<Serializer>): Factory<Serializer> {
  return (externalSchemas, options) => {
    const compile = factory(externalSchemas, options);
    return (route) => {
      let serialize: Serializer | undefined;
      return (data) => (serialize ??= compile(route))(data);
    };
  };
}

/** Fastify's `schemaController.compilersFactory`, compiling lazily. */
export function lazyCompilersFactory(): CompilersFactory {
  return {
    buildValidator: lazyValidators(ValidatorSelector() as unknown as Factory<Validator>),
    buildSerializer: lazySerializers(SerializerSelector() as unknown as Factory<Serializer>),
  } as unknown as CompilersFactory;
}
