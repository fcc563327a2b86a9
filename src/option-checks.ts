import { isAbsoluteHttpUrl } from './oauth/redirects.js';

// The small checks every option resolver is built from: each applies a default and throws a
// TypeError that names the option and the fix.

const ROLE_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Whether `name` is a usable role name in options (letters, digits, _ . : -, at most 64 characters). */
export function isRoleName(name: unknown): boolean {
  return typeof name === 'string' && ROLE_NAME.test(name);
}

export function misuse(option: string, problem: string): TypeError {
  return new TypeError(`express-authlib: option \`${option}\` ${problem}`);
}

export function positiveInt(value: unknown, option: string, fallback: number, min = 1): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw misuse(option, `must be an integer >= ${min} (got ${String(value)})`);
  }
  return v;
}

export function bool(value: unknown, option: string, fallback: boolean): boolean {
  const v = value ?? fallback;
  if (typeof v !== 'boolean') throw misuse(option, 'must be true or false');
  return v;
}

export function str(value: unknown, option: string, fallback: string): string {
  const v = value ?? fallback;
  if (typeof v !== 'string' || v.length === 0) throw misuse(option, 'must be a non-empty string');
  return v;
}

export function roleList(value: unknown, option: string, fallback: readonly string[]): string[] {
  const v = value ?? fallback;
  if (!Array.isArray(v) || !v.every(isRoleName)) {
    throw misuse(option, 'must be an array of role names (letters, digits, _ . : -, at most 64 characters)');
  }
  return [...new Set(v as string[])];
}

export function optionalDsn(value: unknown, option: string, pattern: RegExp, example: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !pattern.test(value)) throw misuse(option, `must start with ${example}`);
  return value;
}

export function optionalFunction<F>(value: unknown, option: string, shape: string): F | undefined {
  if (value !== undefined && typeof value !== 'function') throw misuse(option, `must be a function ${shape}`);
  return value as F | undefined;
}

export function absoluteUrl(value: unknown, option: string, example: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !isAbsoluteHttpUrl(value)) throw misuse(option, `must be an absolute http(s) URL${example}`);
  return value;
}

export function plainObject(value: unknown, option: string, shape: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw misuse(option, `must be an object ${shape}`);
  return value as Record<string, unknown>;
}
