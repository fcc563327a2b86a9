import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { OAuth2Server, type MutableRedirectUri, type MutableResponse, type TokenRequestIncomingMessage } from 'oauth2-mock-server';

/** What Google's OpenID Connect userinfo endpoint answers for the account that signs in. */
export interface FakeGoogleUser {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  given_name?: string;
  family_name?: string;
  picture?: string;
}

/** How the token endpoint misbehaves on its next request (then reset to `false`). */
export type GoogleTokenFailure = false | 'invalid_grant' | 'no_access_token';

export interface FakeGoogleOptions {
  clientId?: string;
  clientSecret?: string;
  /** The registered redirect URI; `redirect_uri` must equal it. Unchecked when omitted. */
  callbackURL?: string;
}

interface IssuedCode {
  redirectUri: string;
  challenge: string | undefined;
  scope: string;
  user: FakeGoogleUser;
  used: boolean;
}

export interface FakeGoogle {
  readonly server: OAuth2Server;
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly urls: { authorizationURL: string; tokenURL: string; userProfileURL: string };
  /** The account that approves the next authorization request (kept until changed). */
  nextUser: FakeGoogleUser;
  /** When true, the next authorization request is denied (`error=access_denied`); then reset. */
  deny: boolean;
  failNextToken: GoogleTokenFailure;
  /** Query of the last GET /authorize. */
  lastAuthorize: Record<string, string> | undefined;
  /** Body of the last POST /token (with Basic credentials merged in). */
  lastTokenRequest: Record<string, string> | undefined;
  /** Successful token responses, in order. */
  readonly issued: Array<{ access_token: string; refresh_token?: string; scope: string; sub: string }>;
  /** Reasons the enforcement layer rejected requests, newest last (for diagnosing a failing test). */
  readonly rejections: string[];
  /** A Google-shaped account with a fresh subject and a verified address. */
  makeUser(fields?: Partial<FakeGoogleUser>): FakeGoogleUser;
  stop(): Promise<void>;
}

let serial = 0;

const s256 = (verifier: string) => createHash('sha256').update(verifier, 'ascii').digest('base64url');

function basicCredentials(req: IncomingMessage): { id: string; secret: string } | undefined {
  const header = req.headers.authorization;
  if (!header?.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { id: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
}

/**
 * Google, played by `oauth2-mock-server` (a real OAuth2/OIDC server on 127.0.0.1, random port,
 * a fresh RS256 signing key). That server on its own accepts any code, any client and any
 * redirect_uri and only checks PKCE when a code_verifier happens to be sent, so this wrapper
 * enforces, through the server's hooks, what Google enforces: known client, registered
 * redirect_uri, single-use codes bound to their redirect_uri, PKCE S256 when a challenge was
 * sent, and userinfo only for a token it issued. The userinfo claims come from `nextUser`.
 */
export async function startFakeGoogle(options: FakeGoogleOptions = {}): Promise<FakeGoogle> {
  const clientId = options.clientId ?? `google-client-${randomBytes(4).toString('hex')}.apps.example`;
  const clientSecret = options.clientSecret ?? `GOCSPX-${randomBytes(12).toString('hex')}`;
  const server = new OAuth2Server();
  await server.issuer.keys.generate('RS256');
  await server.start(0, '127.0.0.1');
  // The mock names itself http://localhost:<port>; pin the address it really listens on, so a
  // resolver that tries ::1 first cannot make it unreachable.
  server.issuer.url = `http://127.0.0.1:${server.address().port}`;
  const issuer = server.issuer.url;
  const codes = new Map<string, IssuedCode>();
  const tokens = new Map<string, FakeGoogleUser>();

  const fake = {
    server,
    issuer,
    clientId,
    clientSecret,
    urls: { authorizationURL: `${issuer}/authorize`, tokenURL: `${issuer}/token`, userProfileURL: `${issuer}/userinfo` },
    deny: false,
    failNextToken: false,
    lastAuthorize: undefined as Record<string, string> | undefined,
    lastTokenRequest: undefined as Record<string, string> | undefined,
    issued: [] as FakeGoogle['issued'],
    rejections: [] as string[],
    makeUser(fields: Partial<FakeGoogleUser> = {}): FakeGoogleUser {
      serial += 1;
      const sub = fields.sub ?? `1${Date.now()}${serial}${randomBytes(2).readUInt16BE()}`;
      return { sub, email: `g${serial}_${randomBytes(3).toString('hex')}@gmail.example`, email_verified: true, name: `Google User ${serial}`, ...fields };
    },
  } as Omit<FakeGoogle, 'nextUser' | 'stop'> & { nextUser: FakeGoogleUser; stop(): Promise<void> };
  fake.nextUser = fake.makeUser();

  const service = server.service;

  // GET /authorize: the mock has already minted a code and built the redirect; check the request
  // as Google would and either keep the code (recording what it is bound to), turn the answer
  // into access_denied, or send the browser to an error page on the provider itself.
  service.on('beforeAuthorizeRedirect', (redirect: MutableRedirectUri, req: IncomingMessage) => {
    const q = Object.fromEntries(new URL(req.url ?? '/', issuer).searchParams);
    fake.lastAuthorize = q;
    const code = redirect.url.searchParams.get('code');
    const fail = (error: string) => {
      fake.rejections.push(`authorize: ${error}`);
      redirect.url.href = `${issuer}/error?error=${encodeURIComponent(error)}`;
    };
    if (q.client_id !== clientId) return fail('invalid_client');
    if (options.callbackURL !== undefined && q.redirect_uri !== options.callbackURL) return fail('redirect_uri_mismatch');
    if (!q.state) return fail('state_missing');
    if (q.code_challenge !== undefined && q.code_challenge_method !== 'S256') return fail('invalid_code_challenge_method');
    if (!code) return fail('no_code');
    if (fake.deny) {
      fake.deny = false;
      redirect.url.searchParams.delete('code');
      redirect.url.searchParams.set('error', 'access_denied');
      return;
    }
    codes.set(code, {
      redirectUri: q.redirect_uri ?? '',
      challenge: q.code_challenge,
      scope: q.scope ?? '',
      user: structuredClone(fake.nextUser),
      used: false,
    });
  });

  // POST /token: the mock has already built a response; replace it by an error unless the
  // request is one Google would honour, and remember which account the access token is for.
  service.on('beforeResponse', (response: MutableResponse, req: TokenRequestIncomingMessage) => {
    const body = Object.fromEntries(Object.entries(req.body ?? {}).map(([k, v]) => [k, String(v)]));
    const basic = basicCredentials(req);
    const params: Record<string, string> = { ...body, ...(basic ? { client_id: basic.id, client_secret: basic.secret } : {}) };
    fake.lastTokenRequest = params;
    const reject = (error: string, status = 400) => {
      fake.rejections.push(`token: ${error}`);
      response.statusCode = status;
      response.body = { error, error_description: `fake google: ${error}` };
    };
    const failure = fake.failNextToken;
    fake.failNextToken = false;
    if (failure === 'invalid_grant') return reject('invalid_grant');
    if (params.grant_type !== 'authorization_code') return reject('unsupported_grant_type');
    if (params.client_id !== clientId || params.client_secret !== clientSecret) return reject('invalid_client', 401);
    const grant = params.code ? codes.get(params.code) : undefined;
    if (!grant || grant.used) return reject('invalid_grant');
    grant.used = true;
    if (params.redirect_uri !== grant.redirectUri) return reject('redirect_uri_mismatch');
    if (grant.challenge !== undefined && (!params.code_verifier || s256(params.code_verifier) !== grant.challenge)) return reject('invalid_grant');
    if (failure === 'no_access_token') {
      response.body = { token_type: 'Bearer', expires_in: 3599 };
      return;
    }
    const out = response.body as Record<string, unknown>;
    out.scope = grant.scope;
    const accessToken = String(out.access_token);
    tokens.set(accessToken, grant.user);
    fake.issued.push({
      access_token: accessToken,
      ...(typeof out.refresh_token === 'string' ? { refresh_token: out.refresh_token } : {}),
      scope: grant.scope,
      sub: grant.user.sub,
    });
  });

  // GET /userinfo: only for a token this server issued; the claims of the account that approved.
  service.on('beforeUserinfo', (response: MutableResponse, req: IncomingMessage) => {
    const header = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const token = header ?? new URL(req.url ?? '/', issuer).searchParams.get('access_token') ?? undefined;
    const user = token ? tokens.get(token) : undefined;
    if (!user) {
      fake.rejections.push('userinfo: invalid_token');
      response.statusCode = 401;
      response.body = { error: 'invalid_token', error_description: 'Invalid Credentials' };
      return;
    }
    response.body = { ...user };
  });

  let stopped: Promise<void> | undefined;
  return Object.assign(fake, {
    stop(): Promise<void> {
      stopped ??= server.listening ? server.stop() : Promise.resolve();
      return stopped;
    },
  });
}
