/** Shortest password accepted, in characters (NIST SP 800-63B). */
export const MIN_PASSWORD_LENGTH = 8;
/** Longest password accepted; longer ones are rejected before any hashing (hashing cost is a DoS lever). */
export const MAX_PASSWORD_LENGTH = 1024;

/** Why `password` is unacceptable, or undefined when it is fine. Length counts code points. */
export function passwordProblem(password: string): string | undefined {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) return `must be at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > MAX_PASSWORD_LENGTH) return `must be at most ${MAX_PASSWORD_LENGTH} characters`;
  return undefined;
}
