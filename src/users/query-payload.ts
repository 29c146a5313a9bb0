// queryUsers' `payload` query parameter: JSON text holding a QueryUsersPayload, checked against its schema.
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { inputError } from '../http/errors.js';
import { parseRequestJson, type InputLimits } from '../limits.js';
import { QueryUsersPayload, UserRequest } from './schemas.js';

const payloadCheck = TypeCompiler.Compile(QueryUsersPayload, [UserRequest]);

/** Reads the `payload` query parameter; absent means an empty filter. */
export function parseQueryPayload(raw: string | undefined, limits: InputLimits): QueryUsersPayload {
  if (raw === undefined || raw === '') return {};
  const payload = parseRequestJson(raw, limits, 'payload');
  if (!payloadCheck.Check(payload)) {
    const first = payloadCheck.Errors(payload).First();
    const where = first?.path ? first.path.replace(/^\//, '').replace(/\//g, '.') : 'payload';
    throw inputError(`${where || 'payload'}: ${first?.message ?? 'is invalid'}`);
  }
  return payload;
}
