import { z } from 'zod';
import { ValidationError } from './errors.js';
import { MAX_PASSWORD_LENGTH, passwordProblem } from './passwords/policy.js';

/** Longest accepted `real_name`. */
export const MAX_REAL_NAME_LENGTH = 200;
/** Largest accepted `profile`, as JSON. */
export const MAX_PROFILE_BYTES = 8192;

const nfkcTrim = (s: string) => s.trim().normalize('NFKC');

/** 3-64 letters, digits, `_`, `.` or `-` after trimming and NFKC; no `@`, so a login name is never mistaken for an email. */
export const username = z
  .string()
  .max(256)
  .transform(nfkcTrim)
  .pipe(z.string().regex(/^[\p{L}\p{N}_.-]{3,64}$/u, 'must be 3-64 letters, digits, _ . or -'));

export const email = z.string().max(320).transform(nfkcTrim).pipe(z.email('must be an email address').max(254));

export const password = z
  .string()
  // Checked before anything else so an oversized password never reaches the hasher.
  .max(MAX_PASSWORD_LENGTH, `must be at most ${MAX_PASSWORD_LENGTH} characters`)
  .superRefine((value, ctx) => {
    const problem = passwordProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

export const realName = z.string().max(MAX_REAL_NAME_LENGTH).transform((s) => s.trim());

export const profile = z
  .record(z.string(), z.unknown())
  .refine((p) => JSON.stringify(p).length <= MAX_PROFILE_BYTES, `must be at most ${MAX_PROFILE_BYTES} bytes of JSON`);

export const roleNames = z.array(z.string().min(1).max(64)).max(64);

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
