import * as z from 'zod';
import { AUTH_ERROR_STATUS } from '../../errors.js';
import { operations, type Access, type Operation } from './operations.js';
import { responseSchemas, type ResponseSchemas } from './responses.js';

/** The package version, published as `info.version` (a test keeps it equal to package.json). */
export const DOCUMENT_VERSION = '0.1.0';

/** An OpenAPI 3.1 document as plain JSON. */
export type OpenApiDocument = Record<string, unknown> & { openapi: '3.1.0'; paths: Record<string, Record<string, unknown>> };

type JsonSchema = Record<string, unknown>;

const REF = '#/components/schemas/';

const PATH_PARAMETERS: Record<string, (path: string) => string> = {
  user: () => 'A user id, or `me` for the caller',
  id: (path) => (path.startsWith('/groups') ? 'A group id or slug' : 'A user id'),
  user_id: () => 'A user id, or `me` for the caller',
  child_id: () => 'The child group: id or slug',
  invitation_id: () => 'An invitation of the caller (from `GET /{user}/invitations`)',
  token_id: () => 'An API token id',
  passkey_id: () => 'A passkey id (from `GET /{user}/passkeys`)',
  session_id: () => 'A login (from `GET /{user}/sessions`)',
  provider: () => 'An OAuth provider name, as in `oauthConfig`',
  connector: () => 'An integration connector name',
  name: () => 'A role name',
};

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad request',
  401: 'Not authenticated',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Conflict',
  413: 'Payload too large',
  415: 'Unsupported media type',
  429: 'Rate limited (see `Retry-After`)',
  500: 'Internal error',
  501: 'Not configured',
  502: 'Provider unavailable',
  503: 'Service unavailable',
};

/** Headers that come with an error status, whichever operation answers it. */
const ERROR_HEADERS: Record<number, Record<string, unknown>> = {
  401: { 'WWW-Authenticate': { required: true, description: '`Bearer`, with `error="invalid_token"` when a token was sent', schema: { type: 'string' } } },
  429: { 'Retry-After': { required: true, description: 'Seconds to wait', schema: { type: 'integer' } } },
};

/** The error statuses an operation may answer: those of its kind (body, auth, limits) plus its own. */
export function errorStatuses(op: Operation): number[] {
  const statuses = new Set<number>([500, 503, ...(op.errors ?? [])]);
  if (op.body || op.form || op.query || op.path.includes('{')) statuses.add(400);
  if (op.body || op.form) statuses.add(413).add(415);
  // Authenticated routes answer 429 too: repeated bad tokens from one address are slowed down.
  if (op.access !== 'none') statuses.add(401).add(403).add(429);
  if (op.limited) statuses.add(429);
  return [...statuses].sort((a, b) => a - b);
}

const codesOf = (status: number) =>
  Object.entries(AUTH_ERROR_STATUS)
    .filter(([, s]) => s === status)
    .map(([code]) => `\`${code}\``);

function toJsonSchema(schema: z.ZodType): JsonSchema {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as JsonSchema;
  delete json.$schema;
  return json;
}

/** Every request and response schema as one set of components, nested components by `$ref`. */
function components(
  responses: ResponseSchemas,
  ops: readonly Operation[],
): { schemas: Record<string, JsonSchema>; bodyRef: (op: Operation) => JsonSchema | undefined; ref: (s: z.ZodType) => JsonSchema } {
  const registry = z.registry<{ id: string }>();
  const named = new Map<z.ZodType, string>();
  const add = (id: string, schema: z.ZodType) => {
    const known = named.get(schema);
    if (known === id) return;
    if (known !== undefined) throw new TypeError(`express-authlib: one schema published as both ${known} and ${id}`);
    named.set(schema, id);
    registry.add(schema, { id });
  };
  for (const [name, schema] of Object.entries(responses)) add(name === 'ErrorBody' ? 'Error' : name, schema);
  for (const op of ops) if (op.body) add(op.body[0], op.body[1]);
  const generated = z.toJSONSchema(registry, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any', uri: (id) => `${REF}${id}` });
  const schemas: Record<string, JsonSchema> = {};
  for (const [id, schema] of Object.entries(generated.schemas)) {
    const { $schema: _s, $id: _i, ...rest } = schema as JsonSchema;
    schemas[id] = rest;
  }
  const ref = (schema: z.ZodType): JsonSchema => {
    const id = named.get(schema);
    if (id === undefined) throw new TypeError('express-authlib: a response schema of the OpenAPI table is not exported from openapi/responses.ts');
    return { $ref: `${REF}${id}` };
  };
  return { schemas, ref, bodyRef: (op) => (op.body ? ref(op.body[1]) : undefined) };
}

function security(access: Access): Array<Record<string, string[]>> {
  if (access === 'none') return [];
  if (access === 'jwt') return [{ accessToken: [] }];
  // Anonymous, or with an access JWT (an empty requirement makes the credential optional).
  if (access === 'jwt_optional') return [{}, { accessToken: [] }];
  if (access === 'client') return [{ introspectionClient: [] }, { apiToken: [] }, { apiTokenBearer: [] }];
  return [{ accessToken: [] }, { apiToken: [] }, { apiTokenBearer: [] }];
}

function parameters(op: Operation): JsonSchema[] {
  const list: JsonSchema[] = [];
  for (const [, name] of op.path.matchAll(/\{([a-z_]+)\}/g)) {
    const describe = PATH_PARAMETERS[name!];
    if (!describe) throw new TypeError(`express-authlib: path parameter {${name}} of ${op.path} has no description`);
    list.push({ name, in: 'path', required: true, description: describe(op.path), schema: { type: 'string' } });
  }
  if (op.query) {
    const json = toJsonSchema(op.query);
    const required = new Set((json.required as string[] | undefined) ?? []);
    for (const [name, schema] of Object.entries((json.properties ?? {}) as Record<string, JsonSchema>)) {
      list.push({ name, in: 'query', required: required.has(name), schema });
    }
  }
  return list;
}

const json = (schema: JsonSchema) => ({ 'application/json': { schema } });

function operationId(op: Operation): string {
  const words = op.path.replace(/[{}.]/g, '').split(/[/_-]/).filter(Boolean);
  return op.method + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

function operation(op: Operation, c: ReturnType<typeof components>): JsonSchema {
  const out: Record<string, unknown> = {};
  for (const [status, body] of Object.entries(op.ok)) {
    out[status] =
      body === 'redirect'
        ? {
            description:
              "Redirect; tokens (or csrf_token in cookie mode) or an error travel in the URL fragment, never the query, with the flow's client_state when it began with one",
            headers: { Location: { required: true, schema: { type: 'string' } } },
          }
        : { description: 'Success', content: json(c.ref(body)) };
  }
  for (const status of errorStatuses(op)) {
    const headers = ERROR_HEADERS[status];
    out[status] = {
      description: `${STATUS_TEXT[status] ?? 'Error'}: ${codesOf(status).join(', ')}`,
      ...(headers ? { headers } : {}),
      content: json({ $ref: `${REF}Error` }),
    };
  }
  const body = c.bodyRef(op);
  const form = op.form ? toJsonSchema(op.form) : undefined;
  const params = parameters(op);
  return {
    operationId: operationId(op),
    summary: op.summary,
    tags: [op.tag],
    security: security(op.access),
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(body || form
      ? {
          requestBody: {
            required: op.bodyOptional !== true,
            content: { ...(body ? json(body) : {}), ...(form ? { 'application/x-www-form-urlencoded': { schema: form } } : {}) },
          },
        }
      : {}),
    responses: out,
  };
}

/**
 * The OpenAPI 3.1 document of every route `auth.router` mounts, generated from the zod schemas
 * that validate the requests and from those of openapi/responses.ts. Built on each call: a caller
 * may change its copy, and the schemas it was made from are not kept.
 */
export function buildOpenApiDocument(basePath: string): OpenApiDocument {
  const responses = responseSchemas();
  const ops = operations(responses);
  const c = components(responses, ops);
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of ops) (paths[op.path] ??= {})[op.method] = operation(op, c);
  return {
    openapi: '3.1.0',
    info: {
      title: 'express-authlib',
      version: DOCUMENT_VERSION,
      description: 'Authentication endpoints: JSON in and out, snake_case keys, ISO-8601 UTC timestamps. Every error has the body `Error`.',
    },
    servers: [{ url: basePath === '/' ? '/' : basePath }],
    tags: [...new Set(ops.map((op) => op.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: c.schemas,
      securitySchemes: {
        accessToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access JWT from /login, /register, /token-refresh...' },
        apiToken: { type: 'apiKey', in: 'header', name: 'X-API-Token', description: 'An API token (`api_...`)' },
        apiTokenBearer: { type: 'http', scheme: 'bearer', bearerFormat: 'api_...', description: 'An API token sent as a bearer token' },
        introspectionClient: {
          type: 'http',
          scheme: 'basic',
          description:
            'Client credentials from the `introspection` option (or a service key with the scope `introspect`, minted by a site admin or trusted code, while its minter is still a site admin)',
        },
      },
    },
  };
}
