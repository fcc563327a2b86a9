import { createRequire } from 'node:module';
import { ValidationError } from '../errors.js';
import { identityKey } from '../identity-key.js';

/** Shortest password accepted by default, in characters (NIST SP 800-63B). */
export const MIN_PASSWORD_LENGTH = 8;
/** Longest password accepted; longer ones are rejected before any hashing (hashing cost is a DoS lever). */
export const MAX_PASSWORD_LENGTH = 1024;

/** The resolved `passwordPolicy` option. */
export interface PasswordRules {
  minLength: number;
  maxLength: number;
  rejectCommon: boolean;
}

/** The common passwords, each between newlines, and how many there are; read on first use. */
let common: { list: string; count: number } | undefined;

/**
 * The ~49,000 most common passwords of zxcvbn-ts's maintained list, lower-cased, as one string
 * (CommonJS entry, so it loads alike from the ESM and CommonJS builds). Once read, the package's
 * modules leave the module cache: they hold 58,000 strings (another list beside this one), about
 * 3 MB that V8's collector would otherwise mark again on every major cycle for the life of the
 * process, at a cost to every route of the app. One string is one object to the collector; a lookup
 * scans it (about 60 µs), once per password set, beside a bcrypt hash of 200 ms.
 */
function commonPasswords(): { list: string; count: number } {
  if (!common) {
    const require = createRequire(import.meta.url);
    const loaded = new Set(Object.keys(require.cache));
    const { dictionary } = require('@zxcvbn-ts/language-common') as { dictionary: Record<string, string[]> };
    const passwords = [...new Set((dictionary['passwords-common'] ?? []).map((p) => p.normalize('NFKC').toLowerCase()))];
    common = { list: `\n${passwords.join('\n')}\n`, count: passwords.length };
    for (const id of Object.keys(require.cache)) if (!loaded.has(id)) delete require.cache[id];
  }
  return common;
}

/** Whether `lowered` is on the list; a newline in it would match across two entries, and no entry has one. */
function isCommon(lowered: string): boolean {
  return !lowered.includes('\n') && commonPasswords().list.includes(`\n${lowered}\n`);
}

/** How many entries the common-password list holds (for the docs and tests). */
export function commonPasswordCount(): number {
  return commonPasswords().count;
}

/**
 * Why `password` is unacceptable, or undefined when it is fine. Length counts code points after
 * NFKC (what is hashed). No composition rules: NIST SP 800-63B asks for length and a blocklist.
 */
export function passwordProblem(password: string, rules: PasswordRules, account: { username?: string | null; email?: string | null } = {}): string | undefined {
  // No request body may carry U+0000 (the HTTP layer refuses it), so a password set with one
  // through the API or the CLI could never be typed at a sign-in.
  if (password.includes('\u0000')) return 'must not contain U+0000';
  const normalised = password.normalize('NFKC');
  const length = [...normalised].length;
  if (length < rules.minLength) return `must be at least ${rules.minLength} characters`;
  if (length > rules.maxLength) return `must be at most ${rules.maxLength} characters`;
  if (rules.rejectCommon && isCommon(normalised.toLowerCase())) return 'is one of the most common passwords; choose another';
  const key = identityKey(password);
  if ((account.username && key === identityKey(account.username)) || (account.email && key === identityKey(account.email)))
    return 'must not be the username or email';
  return undefined;
}

/** Throws 400 `validation_error` on `fields.password` when the password breaks the policy. */
export function checkPassword(password: string, rules: PasswordRules, account: { username?: string | null; email?: string | null }): void {
  const problem = passwordProblem(password, rules, account);
  if (problem) throw new ValidationError({ password: problem }, `password: ${problem}`);
}
