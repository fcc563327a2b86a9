import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One address of a fake GitHub account, as GET /user/emails lists it. */
export interface FakeGitHubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
  visibility?: 'public' | 'private' | null;
}

/** The GitHub account that "approves" the next authorization request. */
export interface FakeGitHubUser {
  id: number;
  login: string;
  name?: string | null;
  /** Public profile email shown by GET /user; defaults to the primary address when it is public. */
  email?: string | null;
  emails: FakeGitHubEmail[];
}

/**
 * How the token endpoint misbehaves on its next request (then it is reset to `false`):
 * - `'bad_verification_code'`: 401 `{error: 'bad_verification_code'}`;
 * - `'github_style_error'`: 200 `{error: 'bad_verification_code', ...}` (what github.com really answers);
 * - `'garbage'`: 200 `text/html` that is neither JSON nor a token;
 * - `'server_error'`: 503 text;
 * - `'reset'`: the TCP connection is destroyed without an answer.
 */
export type TokenFailure = false | 'bad_verification_code' | 'github_style_error' | 'garbage' | 'server_error' | 'reset';

/** How GET /user misbehaves on its next request (then reset to `false`). */
export type ProfileFailure = false | 'unauthorized' | 'garbage';

/** How GET /user/emails misbehaves on its next request (then reset to `false`): non-JSON, `[]`, or 404. */
export type EmailsFailure = false | 'garbage' | 'empty' | 'not_found';

interface IssuedCode {
  clientId: string;
  redirectUri: string;
  challenge: string | undefined;
  challengeMethod: string | undefined;
  scope: string;
  user: FakeGitHubUser;
  used: boolean;
}

interface IssuedToken {
  user: FakeGitHubUser;
  scopes: string[];
}

export interface FakeGitHubOptions {
  clientId?: string;
  clientSecret?: string;
  /** The OAuth app's registered callback; `redirect_uri` must equal it. Unchecked when omitted. */
  callbackURL?: string;
  /** Reject authorization requests without S256 PKCE. @default true */
  requirePkce?: boolean;
}

export interface FakeGitHub {
  readonly origin: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly urls: { authorizationURL: string; tokenURL: string; userProfileURL: string; userEmailURL: string };
  /** The account that approves the next authorization request (kept until changed). */
  nextUser: FakeGitHubUser;
  /** When true, the next authorization request is denied (redirect with `error=access_denied`); then reset. */
  deny: boolean;
  /** Misbehaviour of the next token request; then reset. */
  failNextToken: TokenFailure;
  /** Misbehaviour of the next GET /user; then reset. */
  failNextProfile: ProfileFailure;
  /** Misbehaviour of the next GET /user/emails; then reset. */
  failNextEmails: EmailsFailure;
  /** Also hand out a refresh token (GitHub Apps with expiring user tokens do). */
  issueRefreshTokens: boolean;
  /** Query of the last GET /login/oauth/authorize. */
  lastAuthorize: Record<string, string> | undefined;
  /** Parameters of the last POST /login/oauth/access_token (body merged with Basic credentials). */
  lastTokenRequest: Record<string, string> | undefined;
  /** Every token response body that carried an access token, in order. */
  readonly issued: Array<{ access_token: string; refresh_token?: string; scope: string; user_id: number }>;
  /** Requests received, by "METHOD path". */
  readonly hits: Record<string, number>;
  /** A GitHub-shaped user with a fresh id and login, whose primary address is verified. */
  makeUser(fields?: Partial<FakeGitHubUser> & { email?: string | null; verified?: boolean }): FakeGitHubUser;
  stop(): Promise<void>;
}

let ids = 10_000;

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<Record<string, string>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  const type = String(req.headers['content-type'] ?? '');
  if (type.includes('application/json')) {
    try {
      const parsed = JSON.parse(text) as Record<string, unknown>;
      return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
    } catch {
      return {};
    }
  }
  return Object.fromEntries(new URLSearchParams(text));
}

function basicCredentials(req: IncomingMessage): { id: string; secret: string } | undefined {
  const header = req.headers.authorization;
  if (!header?.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { id: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
}

function bearerToken(req: IncomingMessage): string | undefined {
  const match = /^(?:Bearer|token)\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  return match?.[1];
}

const s256 = (verifier: string) => createHash('sha256').update(verifier, 'ascii').digest('base64url');

/**
 * A real HTTP server on 127.0.0.1 imitating github.com's OAuth web flow and REST API: the
 * authorize page (the "user" approves, or denies, at once), the token endpoint (client
 * credentials, single-use codes bound to their redirect_uri, PKCE S256), GET /user and
 * GET /user/emails (needs the `user:email` or `user` scope, as on GitHub).
 */
export async function startFakeGitHub(options: FakeGitHubOptions = {}): Promise<FakeGitHub> {
  const clientId = options.clientId ?? `gh-client-${randomBytes(4).toString('hex')}`;
  const clientSecret = options.clientSecret ?? `gh-secret-${randomBytes(12).toString('hex')}`;
  const requirePkce = options.requirePkce ?? true;
  const codes = new Map<string, IssuedCode>();
  const tokens = new Map<string, IssuedToken>();

  const fake = {
    clientId,
    clientSecret,
    deny: false,
    failNextToken: false,
    failNextProfile: false,
    failNextEmails: false,
    issueRefreshTokens: false,
    lastAuthorize: undefined as Record<string, string> | undefined,
    lastTokenRequest: undefined as Record<string, string> | undefined,
    issued: [] as FakeGitHub['issued'],
    hits: {},
    makeUser(fields: Partial<FakeGitHubUser> & { email?: string | null; verified?: boolean } = {}): FakeGitHubUser {
      ids += 1;
      const login = fields.login ?? `octo${ids}_${randomBytes(2).toString('hex')}`;
      const email = fields.email === undefined ? `${login}@users.example` : fields.email;
      return {
        id: fields.id ?? ids,
        login,
        name: fields.name ?? `The ${login}`,
        email: null,
        emails: fields.emails ?? (email ? [{ email, primary: true, verified: fields.verified ?? true, visibility: 'private' }] : []),
      };
    },
  } as FakeGitHub & { nextUser: FakeGitHubUser };
  fake.nextUser = fake.makeUser({ id: 123, login: 'octocat', name: 'The Octocat', email: 'octocat@github.example' });

  async function authorize(url: URL, res: ServerResponse): Promise<void> {
    const q = Object.fromEntries(url.searchParams);
    fake.lastAuthorize = q;
    const bad = (description: string) => json(res, 400, { error: 'invalid_request', error_description: description });
    if (q.client_id !== clientId) return bad('unknown client_id');
    if (!q.redirect_uri) return bad('redirect_uri missing');
    let redirect: URL;
    try {
      redirect = new URL(q.redirect_uri);
    } catch {
      return bad('redirect_uri is not a URL');
    }
    if (options.callbackURL !== undefined && q.redirect_uri !== options.callbackURL) return bad('redirect_uri_mismatch');
    if (q.response_type !== undefined && q.response_type !== 'code') return bad('response_type must be code');
    if (!q.state) return bad('state missing');
    if (requirePkce || q.code_challenge !== undefined) {
      if (!q.code_challenge || !/^[A-Za-z0-9_-]{43}$/.test(q.code_challenge)) return bad('code_challenge missing or malformed');
      if (q.code_challenge_method !== 'S256') return bad('code_challenge_method must be S256');
    }
    if (fake.deny) {
      fake.deny = false;
      redirect.searchParams.set('error', 'access_denied');
      redirect.searchParams.set('error_description', 'The user has denied your application access.');
      redirect.searchParams.set('state', q.state);
    } else {
      const code = randomBytes(10).toString('hex');
      codes.set(code, {
        clientId,
        redirectUri: q.redirect_uri,
        challenge: q.code_challenge,
        challengeMethod: q.code_challenge_method,
        scope: (q.scope ?? '')
          .split(/[\s,]+/)
          .filter(Boolean)
          .join(','),
        user: structuredClone(fake.nextUser),
        used: false,
      });
      redirect.searchParams.set('code', code);
      redirect.searchParams.set('state', q.state);
    }
    res.writeHead(302, { Location: redirect.href });
    res.end();
  }

  async function accessToken(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const basic = basicCredentials(req);
    const params: Record<string, string> = { ...body, ...(basic ? { client_id: basic.id, client_secret: basic.secret } : {}) };
    fake.lastTokenRequest = params;
    const failure = fake.failNextToken;
    fake.failNextToken = false;
    if (failure === 'reset') {
      req.socket.destroy();
      return;
    }
    if (failure === 'garbage') {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html><body>Oops, a unicorn!</body></html>');
      return;
    }
    if (failure === 'server_error') {
      res.writeHead(503, { 'Content-Type': 'text/plain' });
      res.end('Service Unavailable');
      return;
    }
    const reject = (error: string, description: string) =>
      failure === 'github_style_error'
        ? json(res, 200, { error, error_description: description, error_uri: 'https://docs.github.example/' })
        : json(res, 401, { error, error_description: description });
    if (failure) return reject('bad_verification_code', 'The code passed is incorrect or expired.');
    if (params.client_id !== clientId || params.client_secret !== clientSecret)
      return reject('incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.');
    const grant = params.code ? codes.get(params.code) : undefined;
    if (!grant || grant.used) return reject('bad_verification_code', 'The code passed is incorrect or expired.');
    grant.used = true;
    if (params.redirect_uri !== undefined && params.redirect_uri !== grant.redirectUri)
      return reject('redirect_uri_mismatch', 'The redirect_uri MUST match the registered callback URL for this application.');
    if (grant.challenge !== undefined) {
      if (!params.code_verifier) return reject('bad_verification_code', 'code_verifier missing');
      if (s256(params.code_verifier) !== grant.challenge) return reject('bad_verification_code', 'code_verifier does not match code_challenge');
    }
    const token = `gho_${randomBytes(18).toString('base64url')}`;
    const scopes = grant.scope.split(',').filter(Boolean);
    tokens.set(token, { user: grant.user, scopes });
    const answer: Record<string, string | number> = { access_token: token, token_type: 'bearer', scope: grant.scope };
    if (fake.issueRefreshTokens) {
      answer.refresh_token = `ghr_${randomBytes(30).toString('base64url')}`;
      answer.expires_in = 28_800;
      answer.refresh_token_expires_in = 15_811_200;
    }
    fake.issued.push({
      access_token: token,
      ...(answer.refresh_token ? { refresh_token: String(answer.refresh_token) } : {}),
      scope: grant.scope,
      user_id: grant.user.id,
    });
    json(res, 200, answer, { 'Cache-Control': 'no-store' });
  }

  function authenticated(req: IncomingMessage, res: ServerResponse): IssuedToken | undefined {
    const token = bearerToken(req);
    const issued = token ? tokens.get(token) : undefined;
    if (!issued) json(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.example/rest' });
    return issued;
  }

  function user(req: IncomingMessage, res: ServerResponse): void {
    const failure = fake.failNextProfile;
    fake.failNextProfile = false;
    if (failure === 'unauthorized') return json(res, 401, { message: 'Bad credentials' });
    if (failure === 'garbage') {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html>not json</html>');
      return;
    }
    const issued = authenticated(req, res);
    if (!issued) return;
    const u = issued.user;
    const publicPrimary = u.emails.find((e) => e.primary && e.visibility === 'public')?.email ?? null;
    json(res, 200, {
      login: u.login,
      id: u.id,
      node_id: `MDQ6VXNlcj${u.id}`,
      avatar_url: `https://avatars.github.example/u/${u.id}`,
      html_url: `https://github.example/${u.login}`,
      type: 'User',
      site_admin: false,
      name: u.name ?? null,
      email: u.email !== undefined && u.email !== null ? u.email : publicPrimary,
    });
  }

  function emails(req: IncomingMessage, res: ServerResponse): void {
    const failure = fake.failNextEmails;
    fake.failNextEmails = false;
    if (failure === 'garbage') {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html>not json</html>');
      return;
    }
    if (failure === 'empty') return json(res, 200, []);
    if (failure === 'not_found') return json(res, 404, { message: 'Not Found' });
    const issued = authenticated(req, res);
    if (!issued) return;
    if (!issued.scopes.some((s) => s === 'user:email' || s === 'user')) return json(res, 404, { message: 'Not Found' });
    json(
      res,
      200,
      issued.user.emails.map((e) => ({ email: e.email, primary: e.primary, verified: e.verified, visibility: e.visibility ?? null })),
    );
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const key = `${req.method} ${url.pathname}`;
    fake.hits[key] = (fake.hits[key] ?? 0) + 1;
    const route = async () => {
      if (key === 'GET /login/oauth/authorize') return authorize(url, res);
      if (key === 'POST /login/oauth/access_token') return accessToken(req, res);
      if (key === 'GET /user') return user(req, res);
      if (key === 'GET /user/emails') return emails(req, res);
      json(res, 404, { message: 'Not Found' });
    };
    route().catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, { message: String(err) });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  let stopped: Promise<void> | undefined;

  return Object.assign(fake, {
    origin,
    urls: {
      authorizationURL: `${origin}/login/oauth/authorize`,
      tokenURL: `${origin}/login/oauth/access_token`,
      userProfileURL: `${origin}/user`,
      userEmailURL: `${origin}/user/emails`,
    },
    stop(): Promise<void> {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  });
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
