import * as z from 'zod';
import { ValidationError } from './errors.js';
import { MAX_PASSWORD_LENGTH, passwordProblem, type PasswordRules } from './passwords/policy.js';
import { isSingleScript } from './single-script.js';
import { isIdShaped } from './id-shape.js';

/** Longest accepted `real_name`. */
export const MAX_REAL_NAME_LENGTH = 200;
/** Largest accepted `profile`, as JSON. */
export const MAX_PROFILE_BYTES = 8192;
/** Deepest accepted nesting of objects and arrays in `profile` (the profile object itself is level 1). */
export const MAX_PROFILE_DEPTH = 32;

/**
 * Whether `value` nests objects or arrays more than `max` levels deep. Iterative, with an explicit
 * stack: untrusted JSON may nest thousands of levels, and anything recursive (JSON.stringify
 * included) would run out of call stack on it.
 */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const pending: Array<[unknown, number]> = [[value, 1]];
  while (pending.length > 0) {
    const [item, depth] = pending.pop()!;
    if (item === null || typeof item !== 'object') continue;
    if (depth > max) return true;
    for (const child of Object.values(item)) if (child !== null && typeof child === 'object') pending.push([child, depth + 1]);
  }
  return false;
}

/**
 * A schema built on its first use, not when the module loads. A zod schema is a graph of some 20
 * objects and closures, and the library validates with about 550 of them: built at import, they
 * stayed in every app's live heap (1.3 MB), which V8 marks again on each major collection at a
 * cost to every request the app serves, including those of endpoints nobody calls.
 */
export function lazySchema<S extends z.ZodType>(build: () => S): () => S {
  let schema: S | undefined;
  return () => (schema ??= build());
}

const nfkcTrim = (s: string) => s.trim().normalize('NFKC');

/**
 * 3-64 letters, digits, `_`, `.` or `-` after trimming and NFKC, all in one script (no `аdmin`
 * with a Cyrillic `а` beside `admin`); no `@`, so a login name is never mistaken for an email, and
 * not shaped like an id, so it is never mistaken for one.
 */
export const username = lazySchema(() =>
  z
    .string()
    .max(256)
    .transform(nfkcTrim)
    .pipe(
      z
        .string()
        .regex(/^[\p{L}\p{N}_.-]{3,64}$/u, 'must be 3-64 letters, digits, _ . or -')
        .refine(isSingleScript, 'must be written in one script (letters of several alphabets can imitate another name)')
        // A name that reads as an id could stand for another account wherever either is accepted.
        .refine((s) => !isIdShaped(s), 'must not be shaped like a user id (32 hex digits, with or without hyphens)'),
    ),
);

export const email = lazySchema(() => z.string().max(320).transform(nfkcTrim).pipe(z.email('must be an email address').max(254)));

/**
 * A new password's shape; an oversized one never reaches the hasher. The `passwordPolicy` (length,
 * common passwords, not the username or email) is checked by the service that sets it.
 */
export const password = lazySchema(() => z.string().min(1, 'is required').max(MAX_PASSWORD_LENGTH, `must be at most ${MAX_PASSWORD_LENGTH} characters`));

/** `password` with the length and common-password rules of `passwordPolicy`, so they are reported with the other fields. */
export function policyPassword(rules: PasswordRules) {
  return password().superRefine((value, ctx) => {
    const problem = passwordProblem(value, rules);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
}

export const realName = lazySchema(() =>
  z
    .string()
    .max(MAX_REAL_NAME_LENGTH)
    .transform((s) => s.trim()),
);

export const profile = lazySchema(() =>
  z.record(z.string(), z.unknown()).superRefine((p, ctx) => {
    // Depth first: only a shallow enough value may be handed to JSON.stringify.
    if (nestsDeeperThan(p, MAX_PROFILE_DEPTH)) ctx.addIssue({ code: 'custom', message: `must nest at most ${MAX_PROFILE_DEPTH} levels deep` });
    else if (JSON.stringify(p).length > MAX_PROFILE_BYTES) ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_PROFILE_BYTES} bytes of JSON` });
  }),
);

export const roleNames = lazySchema(() => z.array(z.string().min(1).max(64)).max(64));

/** Validates `value` against `schema`; a failure becomes a 400 `validation_error` naming each field. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const fields: Record<string, string> = {};
  for (const issue of result.error.issues) {
    const key = issue.path.length > 0 ? issue.path.map(String).join('.') : 'body';
    fields[key] ??= issue.message;
  }
  const first = Object.keys(fields)[0]!;
  throw new ValidationError(fields, first === 'body' ? `request body ${fields.body}` : `${first}: ${fields[first]}`);
}

/** A paging offset: a PostgreSQL integer (a larger one would make the query fail, not find nothing). */
export const pageOffset = lazySchema(() =>
  z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .default(0),
);
