import { AuthError, NotFoundError, ServiceUnavailableError } from '../errors.js';
import { findUserById } from '../db/users-repository.js';
import { isUniqueViolation } from '../db/unavailable.js';
import { OAuthFlow, publicEndpoint, type BeginInput, type CallbackInput } from '../oauth/flow.js';
import { resolveIdentity, type Resolution } from '../oauth/linking.js';
import type { ProviderIdentity } from '../oauth/identity.js';
import type { Provider } from '../oauth/provider.js';
import { buildProviders } from '../oauth/strategies.js';
import type { User } from '../public-user.js';
import type { EventOrigin } from '../security/audit.js';
import type { ServiceContext } from './context.js';
import type { SessionService, TokenPair } from './sessions.js';

/** How a flow ended, and where to send the browser (if anywhere): the login, or why there is none. */
export type OAuthResult = ({ ok: true; login: TokenPair & { user: User } } | { ok: false; error: AuthError }) & {
  redirectTo: string | null;
  clientState: string | null;
};

const RESOLVE_ATTEMPTS = 5;

/** OAuth sign-in and explicit linking: begin a flow, finish it, and turn the identity into a login. */
export class OAuthService {
  readonly #providers: Map<string, Provider>;
  readonly #flow: OAuthFlow;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly sessions: SessionService,
  ) {
    // The redirect_uri registered with every provider.
    const callbackURL = publicEndpoint(ctx.opts, '/login/oauth2callback').href;
    this.#providers = buildProviders(ctx.opts.oauthConfig, callbackURL);
    this.#flow = new OAuthFlow(this.#providers, ctx.database, ctx.opts, callbackURL);
  }

  /** Names of the configured providers. */
  providerNames(): string[] {
    return [...this.#providers.keys()];
  }

  /** Every provider usable (OIDC discovery done); rejects with the first provider's clear error. */
  async ready(): Promise<void> {
    await Promise.all([...this.#providers.values()].map((p) => p.ready()));
  }

  /** Starts a flow (a sign-in, or with `linkUserId` a linking); returns the provider URL to send the browser to. */
  async begin(input: BeginInput): Promise<string> {
    if (input.linkUserId === undefined) return this.#flow.begin(input);
    // A linking flow is derived from the user's standing now, and ends with it (see resolveIdentity).
    const user = await this.ctx.database.run((db) => findUserById(db, input.linkUserId!));
    if (!user) throw new NotFoundError('user not found');
    return this.#flow.begin({ ...input, linkUserVersion: user.token_version });
  }

  /**
   * Finishes a flow: without a valid state for this browser it throws `invalid_state`; once the
   * state is known, failures come back as a value with the flow's redirect target, so the browser
   * can be sent back with the error.
   */
  async complete(input: CallbackInput & { origin?: EventOrigin }): Promise<OAuthResult> {
    const callback = await this.#flow.callback(input);
    const { redirectTo, linkUserId, linkUserVersion, provider, clientState } = callback;
    try {
      const identity = await this.#flow.finish(callback);
      const { userId, outcome } = await this.#resolve(provider.name, identity, linkUserId, linkUserVersion);
      // Recorded before the login, which a disabled account fails: the link itself has happened.
      if (outcome === 'linked')
        await this.ctx.audit.record('identity_linked', { userId, data: { provider: provider.name, explicit: linkUserId !== null }, origin: input.origin });
      const login = await this.sessions.loginVerified(userId, 'oauth', { origin: input.origin });
      await this.ctx.audit.record('oauth_login', { userId, data: { provider: provider.name }, origin: input.origin });
      return { ok: true, login, redirectTo, clientState };
    } catch (err) {
      if (err instanceof AuthError && !(err instanceof ServiceUnavailableError)) return { ok: false, error: err, redirectTo, clientState };
      throw err;
    }
  }

  async #resolve(provider: string, identity: ProviderIdentity, linkUserId: string | null, linkUserVersion: number | null): Promise<Resolution> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.ctx.database.run((db) =>
          db.transaction().execute((trx) => resolveIdentity(trx, this.ctx.opts, { provider, identity, linkUserId, linkUserVersion, attempt })),
        );
      } catch (err) {
        if (!isUniqueViolation(err) || attempt >= RESOLVE_ATTEMPTS) throw err;
      }
    }
  }
}
