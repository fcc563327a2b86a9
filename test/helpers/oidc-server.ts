import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

/** An account the provider signs in when the next login interaction asks. */
export interface OidcAccount {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  preferred_username?: string;
}

export interface OidcServer {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The account the next login signs in as. */
  nextAccount: OidcAccount;
  /** When true, the next login interaction is answered with access_denied. */
  deny: boolean;
  makeAccount(fields?: Partial<OidcAccount>): OidcAccount;
  stop(): Promise<void>;
}

/**
 * A real, certified OpenID Connect provider (the oidc-provider package) on 127.0.0.1, with one
 * confidential client whose redirect URIs are `callbackURLs`. Login and consent are scripted: the
 * interaction page signs in `nextAccount` and grants what was asked, so a test (or a headless
 * browser) drives the whole flow over HTTP without filling in forms.
 */
export async function startOidcServer(options: { callbackURLs: string[]; conformIdTokenClaims?: boolean }): Promise<OidcServer> {
  const accounts = new Map<string, OidcAccount>();
  const clientId = `client_${randomBytes(4).toString('hex')}`;
  const clientSecret = randomBytes(24).toString('base64url');
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: randomBytes(6).toString('hex'), use: 'sig', alg: 'RS256' };

  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: options.callbackURLs,
        response_types: ['code'],
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'] },
    conformIdTokenClaims: options.conformIdTokenClaims ?? false,
    ttl: { AccessToken: 600, AuthorizationCode: 60, Grant: 600, IdToken: 600, Interaction: 600, Session: 600 },
    // passport-openidconnect and a passport-oauth2 strategy without `pkce: true` send no challenge.
    pkce: { required: () => false },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    findAccount: async (_ctx: unknown, sub: string) => {
      const account = accounts.get(sub);
      return account ? { accountId: sub, claims: async () => ({ ...account }) } : undefined;
    },
  } as never);

  const state: OidcServer = {
    issuer,
    clientId,
    clientSecret,
    nextAccount: undefined as unknown as OidcAccount,
    deny: false,
    makeAccount(fields = {}) {
      const id = randomBytes(5).toString('hex');
      return { sub: `sub_${id}`, email: `oidc_${id}@example.org`, email_verified: true, name: `OIDC ${id}`, preferred_username: `oidc_${id}`, ...fields };
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  state.nextAccount = state.makeAccount();

  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (!req.url?.startsWith('/interaction/')) return void callback(req, res);
    void (async () => {
      const details = await provider.interactionDetails(req, res);
      const prompt = details.prompt as { name: string; details: Record<string, unknown> };
      if (state.deny) {
        state.deny = false;
        return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the user said no' }, { mergeWithLastSubmission: false });
      }
      if (prompt.name === 'login') {
        const account = state.nextAccount;
        accounts.set(account.sub, account);
        return provider.interactionFinished(req, res, { login: { accountId: account.sub } }, { mergeWithLastSubmission: false });
      }
      const grant = new provider.Grant({ accountId: (details.session as { accountId: string }).accountId, clientId: String(details.params.client_id) });
      const missingScope = prompt.details.missingOIDCScope as string[] | undefined;
      const missingClaims = prompt.details.missingOIDCClaims as string[] | undefined;
      if (missingScope) grant.addOIDCScope(missingScope.join(' '));
      if (missingClaims) grant.addOIDCClaims(missingClaims);
      return provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
    })().catch((err: Error) => {
      res.statusCode = 500;
      res.end(`interaction failed: ${err.message}`);
    });
  });
  return state;
}

/**
 * Plays a browser at the provider: follows its redirects (keeping its cookies, as a browser does)
 * from the authorization URL until it sends the browser back to the app. Returns that URL.
 */
export async function passProvider(authorizationUrl: string): Promise<URL> {
  const jar = new Map<string, string>();
  let url = new URL(authorizationUrl);
  const origin = url.origin;
  for (let hop = 0; hop < 20; hop++) {
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair!.indexOf('=');
      const [name, value] = [pair!.slice(0, at), pair!.slice(at + 1)];
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
    const location = res.headers.get('location');
    const body = await res.text();
    if (!location) throw new Error(`the provider did not send the browser back: ${res.status} ${body.slice(0, 300)}`);
    url = new URL(location, url);
    if (url.origin !== origin) return url;
  }
  throw new Error('too many redirects at the provider');
}
