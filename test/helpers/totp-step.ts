/** TOTP's step, as the library and the authenticator apps use it. */
const STEP_MS = 30_000;

/**
 * A test that confirms with the code of the step before the current one (so that the current
 * step's code is still unused for the sign-in that follows) sends a code the server accepts only
 * while the current step lasts: one step old is inside its window, two are not. When the current
 * step ends within `marginMs`, this waits for the next one to begin. Without it, a request slow
 * enough to cross the boundary (a loaded CI machine) got 400 invalid_code.
 */
export async function awayFromStepEnd(marginMs = 5_000): Promise<void> {
  const left = STEP_MS - (Date.now() % STEP_MS);
  if (left < marginMs) await new Promise((resolve) => setTimeout(resolve, left + 50));
}
