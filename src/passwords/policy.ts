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

let common: ReadonlySet<string> | undefined;

/**
 * The ~49,000 most common passwords of zxcvbn-ts's maintained list, lower-cased; loaded on first
 * use (CommonJS entry, so it loads alike from the ESM and CommonJS builds).
 */
function commonPasswords(): ReadonlySet<string> {
  if (!common) {
    const require = createRequire(import.meta.url);
    const { dictionary } = require('@zxcvbn-ts/language-common') as { dictionary: Record<string, string[]> };
    common = new Set((dictionary['passwords-common'] ?? []).map((p) => p.normalize('NFKC').toLowerCase()));
  }
  return common;
}

/** How many entries the common-password list holds (for the docs and tests). */
export function commonPasswordCount(): number {
  return commonPasswords().size;
}

/**
 * Why `password` is unacceptable, or undefined when it is fine. Length counts code points after
 * NFKC (what is hashed). No composition rules: NIST SP 800-63B asks for length and a blocklist.
 */
export function passwordProblem(password: string, rules: PasswordRules, account: { username?: string | null; email?: string | null } = {}): string | undefined {
  const normalised = password.normalize('NFKC');
  const length = [...normalised].length;
  if (length < rules.minLength) return `must be at least ${rules.minLength} characters`;
  if (length > rules.maxLength) return `must be at most ${rules.maxLength} characters`;
  if (rules.rejectCommon && commonPasswords().has(normalised.toLowerCase())) return 'is one of the most common passwords; choose another';
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
