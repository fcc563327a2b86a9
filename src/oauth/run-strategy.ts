/** How long the provider gets for the code exchange and profile requests together. */
export const PROVIDER_TIMEOUT_MS = 10_000;

/** The subset of a passport strategy we drive. */
export interface PassportStrategy {
  name?: string;
  authenticate(this: StrategyActions, req: unknown, options?: object): void;
}

/** The actions passport's middleware normally attaches to a strategy instance. */
interface StrategyActions {
  redirect(url: string, status?: number): void;
  success(user: unknown, info?: unknown): void;
  fail(challenge?: unknown, status?: number): void;
  error(err: unknown): void;
  pass(): void;
}

/** How one run of a strategy ended. */
export type StrategyOutcome =
  { kind: 'redirect'; url: string } | { kind: 'success'; user: unknown } | { kind: 'fail'; challenge: unknown } | { kind: 'error'; error: unknown };

/**
 * Runs a passport strategy on a request-like object and reports how it ended, instead of letting
 * passport write to the response: the start of a flow must answer JSON `{redirect_url}`, and the
 * callback needs the profile to link or create the user. This is what passport.authenticate() does
 * internally. `prepare` may give the run its own views of the strategy's internals (one per run, so
 * concurrent flows never share them).
 */
export function runStrategy(
  strategy: PassportStrategy,
  req: object,
  options: object,
  prepare?: (run: PassportStrategy) => void,
  timeoutMs = PROVIDER_TIMEOUT_MS,
): Promise<StrategyOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = new Promise<StrategyOutcome>((resolve) => {
    // passport-oauth2's HTTP client has no timeout: a provider that accepts the connection and never
    // answers would hold the request forever. The late answer, if any, is ignored.
    timer = setTimeout(
      () => resolve({ kind: 'error', error: Object.assign(new Error('the OAuth provider did not answer in time'), { code: 'ETIMEDOUT' }) }),
      timeoutMs,
    );
    timer.unref();
    const run = Object.create(strategy) as PassportStrategy & StrategyActions;
    run.redirect = (url) => resolve({ kind: 'redirect', url });
    run.success = (user) => resolve({ kind: 'success', user });
    run.fail = (challenge) => resolve({ kind: 'fail', challenge });
    run.error = (error) => resolve({ kind: 'error', error });
    run.pass = () => resolve({ kind: 'fail', challenge: 'pass' });
    try {
      prepare?.(run);
      run.authenticate(req, options);
    } catch (error) {
      resolve({ kind: 'error', error });
    }
  });
  return outcome.finally(() => clearTimeout(timer));
}
