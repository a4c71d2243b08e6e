/**
 * Request validation with the routes' TypeBox schemas, in place of Ajv's: a body is checked
 * against its schema as it is written — no global type coercion — and the loose types SPP's
 * clients send are admitted only where a schema declares them (`IntegerLike`, `BooleanLike` in
 * common.ts), then decoded to numbers and booleans by the schema's own transform. No body (or an
 * empty one) is `{}`. A failure is a 400 `XSBInvalidArgumentException` that names the field:
 * `"portNumber" must be a whole number from 1 to 65535.`
 *
 * Routes whose schemas are not TypeBox (the event stream's, declared as plain JSON Schema) keep
 * Fastify's own validator.
 */
import { Kind, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError, type ValueErrorIterator } from '@sinclair/typebox/errors';
import type { FastifyInstance, FastifySchema } from 'fastify';
import { invalid } from '../../core/errors.ts';

type Validator = (data: unknown) => boolean | { value: unknown } | { error: Error };

const isTypeBox = (s: unknown): s is TSchema => !!s && typeof s === 'object' && Kind in s;

/** Where in the body: `/appservers/0/portNumber` → `appservers[0].portNumber`. */
function fieldName(path: string): string {
  return path.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((out, p) => (/^\d+$/.test(p) ? `${out}[${p}]` : out ? `${out}.${p}` : p), '');
}

const depth = (e: ValueError) => (e.path === '' ? 0 : e.path.split('/').length - 1);

/**
 * The first error of a list worth reporting: a value of the wrong type before a property that is
 * missing (`{"portNumber": true}` is told about portNumber, not about hostAddress).
 */
function firstOf(errors: Iterable<ValueError>): ValueError | undefined {
  let missing: ValueError | undefined;
  for (const e of errors) {
    // A required property that is absent is reported both ways: as missing, and as a wrong value (undefined).
    if (e.type !== ValueErrorType.ObjectRequiredProperty && e.value !== undefined) return e;
    missing ??= e;
  }
  return missing;
}

/** The error to report: inside a union without a message of its own, the branch the value came closest to fitting. */
function pick(e: ValueError): ValueError {
  if (e.type !== ValueErrorType.Union || typeof e.schema['x-error'] === 'string' || !e.errors?.length) return e;
  let best: ValueError | undefined;
  for (const branch of e.errors as ValueErrorIterator[]) {
    const first = firstOf(branch);
    if (!first) continue;
    const chosen = pick(first);
    if (!best || depth(chosen) > depth(best)) best = chosen;
  }
  return best ?? e;
}

function says(e: ValueError): string {
  const s = e.schema as Record<string, unknown>;
  if (typeof s['x-error'] === 'string') return s['x-error'];
  switch (e.type) {
    case ValueErrorType.ObjectRequiredProperty: return 'is required';
    case ValueErrorType.String: return 'must be a string';
    case ValueErrorType.Integer: return 'must be a whole number';
    case ValueErrorType.Number: return 'must be a number';
    case ValueErrorType.Boolean: return 'must be true or false';
    case ValueErrorType.Object: return 'must be an object';
    case ValueErrorType.Array: return 'must be an array';
    case ValueErrorType.StringMaxLength: return `is longer than ${String(s.maxLength)} characters`;
    case ValueErrorType.StringMinLength: return s.minLength === 1 ? 'must not be empty' : `must be at least ${String(s.minLength)} characters long`;
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.NumberMinimum: return `must be at least ${String(s.minimum)}`;
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.NumberMaximum: return `must be at most ${String(s.maximum)}`;
    case ValueErrorType.ArrayMaxItems: return `holds more than ${String(s.maxItems)} entries`;
    default: return `is not valid (${e.message.toLowerCase()})`;
  }
}

/** The 400 description of the first thing wrong with a request part. */
export function describeError(first: ValueError, part: string): string {
  const e = pick(first);
  const missing = e.value === undefined && e.path !== '';
  const field = fieldName(e.path);
  if (field) return `"${field}" ${missing ? 'is required' : says(e)}.`;
  if (part === 'body' && e.type === ValueErrorType.Object) return 'The request body must be a JSON object.';
  return `The request ${part === 'body' ? 'body' : part} ${says(e)}.`;
}

/** Compiles one request part's schema: checks, then decodes the declared coercions. */
export function compileValidator(schema: TSchema, part: string): Validator {
  const check = TypeCompiler.Compile(schema);
  const fail = (data: unknown) => ({ error: invalid(describeError(firstOf(check.Errors(data))!, part), 'schema') });
  if (part !== 'body') return (data) => (check.Check(data) ? true : fail(data));
  return (data) => {
    const value = data === null || data === undefined ? {} : data;
    if (!check.Check(value)) return fail(value);
    return { value: check.Decode(value) };
  };
}

/**
 * Makes every route whose request schemas are all TypeBox validate with them (call before any
 * route is added). Routes with a plain JSON Schema keep Fastify's validator.
 */
export function useSchemaValidation(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const schema = route.schema as FastifySchema | undefined;
    if (!schema || route.validatorCompiler) return;
    const parts = [schema.body, schema.querystring, schema.params].filter((s) => s !== undefined);
    if (!parts.length || !parts.every(isTypeBox)) return;
    route.validatorCompiler = ({ schema: s, httpPart }) => compileValidator(s as TSchema, httpPart ?? 'body');
  });
}
