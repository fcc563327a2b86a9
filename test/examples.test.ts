import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { createApp, DEMO_ADMIN, seedAdmin } from '../examples/basic/app.js';
import { consoleMailer } from '../examples/basic/console-mailer.js';
import { databaseOptions, dropSchema, uniqueSchema } from './helpers/database.js';

// The demo app from examples/basic, driven the way its start-up banner tells a person to.
describe('examples/basic', () => {
  const schema = uniqueSchema('ex');
  let demo: ReturnType<typeof createApp>;
  const printed: string[] = [];

  beforeAll(async () => {
    demo = createApp({
      ...(await databaseOptions()),
      dbSchema: schema,
      jwtSecret: 'x'.repeat(40),
      bcryptRounds: 4,
      rateLimit: false,
      mailer: consoleMailer((line) => printed.push(line)),
    });
    await demo.auth.ready;
  });
  afterAll(async () => {
    await demo.auth.close();
    await dropSchema(schema);
  });

  it('registers, logs in, reaches the protected route with an access token and an API token, and is kept out of /admin', async () => {
    const http = request(demo.app);
    expect((await http.get('/')).status).toBe(200);
    expect((await http.get('/protected')).status).toBe(401);

    const credentials = { username: 'alice', password: 'correct horse battery' };
    expect((await http.post('/api/v1/users/register').send({ ...credentials, email: 'alice@example.com' })).status).toBe(201);
    const login = await http.post('/api/v1/users/login').send(credentials);
    expect(login.status).toBe(200);
    const auth = { Authorization: `Bearer ${login.body.token}` };

    const viaJwt = await http.get('/protected').set(auth);
    expect(viaJwt.body).toEqual({ hello: 'alice', roles: ['user'], via: 'jwt' });

    const created = await http
      .post('/api/v1/users/me/api-tokens')
      .set(auth)
      .send({ name: 'cli', scopes: ['reports:read'] });
    expect(created.status).toBe(201);
    const viaApi = await http.get('/protected').set('X-API-Token', created.body.token);
    expect(viaApi.body.via).toBe('api_token');

    expect((await http.get('/admin').set(auth)).body.code).toBe('forbidden');
  });

  it('serves its demo page to browsers and JSON to everyone else, with the mode the page should use', async () => {
    const http = request(demo.app);
    const page = await http.get('/').set('Accept', 'text/html,application/xhtml+xml,*/*;q=0.8');
    expect(page.status).toBe(200);
    expect(page.type).toBe('text/html');
    expect(page.text).toContain('<script type="module" src="/app.js"></script>');
    expect(page.headers['content-security-policy']).toContain("script-src 'self';");
    expect(page.headers['content-security-policy']).toContain("form-action 'none'");
    expect(page.headers.vary).toContain('Accept');
    const json = await http.get('/');
    expect(json.type).toBe('application/json');
    expect(json.body.hello).toBe('world');
    expect((await http.get('/demo-config.json')).body).toEqual({ mode: 'bearer', base_path: '/api/v1/users', passkeys: false });
    const script = await http.get('/app.js');
    expect(script.status).toBe(200);
    expect(script.type).toBe('text/javascript');
    expect(script.text).toContain("import('/client.js')");
    expect((await http.get('/style.css')).type).toBe('text/css');
  });

  it('seeds its first admin once, with a password to print, and the admin reaches /admin', async () => {
    const http = request(demo.app);
    const password = await seedAdmin(demo.auth);
    expect(password).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(await seedAdmin(demo.auth)).toBeUndefined(); // never a second admin, nor a new password
    const login = await http.post('/api/v1/users/login').send({ username: DEMO_ADMIN, password });
    expect(login.status).toBe(200);
    const admin = await http.get('/admin').set({ Authorization: `Bearer ${login.body.token}` });
    expect(admin.status).toBe(200);
    expect(admin.body).toEqual({ admin: true, hello: DEMO_ADMIN });
  });

  /** The value of `field: ...` in the last printed mail of `kind` to `to`, waiting for it (sent after the answer). */
  async function printedField(kind: string, to: string, field: string): Promise<string> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const mail = printed.findLast((m) => m.includes(`to: ${to}`) && m.includes(`kind: ${kind}`));
      const value = mail && new RegExp(`^${field}: (.+)$`, 'm').exec(mail)?.[1];
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`no ${kind} mail printed for ${to}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('the development mailer shows a password reset and an email sign-in end to end, as the banner tells', async () => {
    const http = request(demo.app);
    const email = 'bob@example.com';
    expect((await http.post('/api/v1/users/register').send({ username: 'bob', password: 'correct horse battery', email })).status).toBe(201);

    expect((await http.post('/api/v1/users/request-password-reset').send({ email })).status).toBe(202);
    const token = await printedField('password_reset', email, 'token');
    expect(printed.at(-1)).toContain('development mailer');
    expect((await http.post('/api/v1/users/confirm-password-reset').send({ token, password: 'a new long passphrase' })).status).toBe(200);
    expect((await http.post('/api/v1/users/login').send({ username: 'bob', password: 'a new long passphrase' })).status).toBe(200);

    const requested = await http.post('/api/v1/users/request-otp').send({ email });
    expect(requested.status).toBe(202);
    const code = await printedField('otp', email, 'code');
    const login = await http.post('/api/v1/users/login/otp').send({ otp_id: requested.body.otp_id, code });
    expect(login.status).toBe(200);
    expect((await http.get('/protected').set({ Authorization: `Bearer ${login.body.token}` })).body).toMatchObject({ hello: 'bob' });
  });
});
