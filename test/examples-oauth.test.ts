import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { createOAuthApp } from '../examples/oauth/app.js';
import { databaseOptions, dropSchema, uniqueSchema } from './helpers/database.js';
import { startFakeGitHub, type FakeGitHub } from './helpers/fake-github.js';
import { followOAuth, rememberBrowser } from './helpers/oauth-browser.js';

// examples/oauth as a browser would use it, against the local GitHub imitation.
describe('examples/oauth', () => {
  const schema = uniqueSchema('exo');
  let github: FakeGitHub;
  let demo: ReturnType<typeof createOAuthApp>;

  beforeAll(async () => {
    github = await startFakeGitHub({ callbackURL: 'http://app.test/api/v1/users/login/oauth2callback' });
    demo = createOAuthApp({
      ...(await databaseOptions()),
      dbSchema: schema,
      jwtSecret: 'e'.repeat(40),
      rateLimit: false,
      publicUrl: 'http://app.test',
      oauthConfig: { github: { clientId: github.clientId, clientSecret: github.clientSecret, ...github.urls } },
    });
    await demo.auth.ready;
  });
  afterAll(async () => {
    await demo.auth.close();
    await github.stop();
    await dropSchema(schema);
  });

  it('signs in with GitHub, lands on /done with the tokens in the fragment, and sees the linked account', async () => {
    const http = request(demo.app);
    expect((await http.get('/')).text).toContain('Sign in with GitHub');
    github.nextUser = github.makeUser({ login: 'octo_demo' });

    // The page's button is a link to the GET start, which answers 302 to the provider with the cookie.
    const page = (await http.get('/')).text;
    const href = /href="([^"]+)">Sign in with GitHub</.exec(page)![1]!;
    const begin = rememberBrowser(await http.get(href));
    expect(begin.status).toBe(302);
    const back = await followOAuth(http, begin.headers.location!);
    expect(back.status).toBe(302);
    const landing = new URL(back.headers.location!);
    expect(landing.origin + landing.pathname).toBe('http://app.test/done');
    expect(landing.search).toBe('');
    const token = new URLSearchParams(landing.hash.slice(1)).get('token')!;

    const me = await http.get('/me').set('Authorization', `Bearer ${token}`);
    expect(me.status).toBe(200);
    expect(me.body.user.username).toBe('octo_demo');
    expect(me.body.github_linked).toBe(true);
    expect(me.body.github_scopes).toContain('user:email');
  });
});
