import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

/** How the stand-in's token endpoint forges the next ID token. */
export type IdTokenFault = 'none' | 'wrong_aud' | 'wrong_nonce' | 'expired' | 'other_key' | 'wrong_iss' | 'unsigned';

export interface OidcStandIn {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The fault of the next ID token. */
  fault: IdTokenFault;
  stop(): Promise<void>;
}

/**
 * A tiny OpenID Connect provider for the negative ID-token cases only (the positive path is tested
 * against the real oidc-provider): discovery, JWKS, an authorization endpoint that approves at once,
 * and a token endpoint that signs an ID token with `jose`, broken in the way `fault` says.
 */
export async function startOidcStandIn(options: { port?: number } = {}): Promise<OidcStandIn> {
  const clientId = `standin_${randomBytes(3).toString('hex')}`;
  const clientSecret = randomBytes(16).toString('hex');
  const kid = randomBytes(4).toString('hex');
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const other = await generateKeyPair('RS256');
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] };
  const codes = new Map<string, { nonce: string; redirectUri: string }>();

  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const self: OidcStandIn = {
    issuer,
    clientId,
    clientSecret,
    fault: 'none',
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };

  async function idToken(nonce: string): Promise<string> {
    const fault = self.fault;
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: 'standin-user', email: 'standin@example.org', email_verified: true, nonce: fault === 'wrong_nonce' ? 'not-the-nonce' : nonce };
    const jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid })
      .setIssuer(fault === 'wrong_iss' ? 'http://127.0.0.1:1' : issuer)
      .setAudience(fault === 'wrong_aud' ? 'another-client' : clientId)
      .setIssuedAt(fault === 'expired' ? now - 7200 : now)
      .setExpirationTime(fault === 'expired' ? now - 3600 : now + 300);
    if (fault === 'unsigned') {
      const payload = (await jwt.sign(privateKey)).split('.')[1];
      return `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${payload}.`;
    }
    return jwt.sign(fault === 'other_key' ? other.privateKey : privateKey);
  }

  server.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/.well-known/openid-configuration') {
      return json(200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
      });
    }
    if (url.pathname === '/jwks') return json(200, jwks);
    if (url.pathname === '/authorize') {
      const code = randomBytes(12).toString('hex');
      const redirectUri = url.searchParams.get('redirect_uri') ?? '';
      codes.set(code, { nonce: url.searchParams.get('nonce') ?? '', redirectUri });
      const back = new URL(redirectUri);
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        const grant = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        if (!grant) return json(400, { error: 'invalid_grant' });
        void idToken(grant.nonce).then((id_token) =>
          json(200, { access_token: randomBytes(16).toString('hex'), token_type: 'Bearer', expires_in: 300, id_token, scope: 'openid email' }),
        );
      });
      return;
    }
    json(404, { error: 'not_found' });
  });
  return self;
}
