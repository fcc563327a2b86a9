import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.js';
import { TEST_DSN, rawQuery } from './helpers/database.js';
import { startFakeGitHub, type FakeGitHub } from './helpers/fake-github.js';
import { followOAuth, rememberBrowser } from './helpers/oauth-browser.js';

// A token endpoint that accepts the connection and then says nothing, ever: the callback must
// still answer (502), not hang, and must create nobody.
// What is under test is the wait for the provider, not the database: once, on the PGlite run (CI
// runs the suite on both).
describe.skipIf(TEST_DSN)('OAuth provider that never answers', () => {
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  let github: FakeGitHub;
  let t: TestApp;

  beforeAll(async () => {
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    github = await startFakeGitHub();
    t = await createTestApp({
      publicUrl: 'http://app.test',
      oauthConfig: { github: { clientId: github.clientId, clientSecret: github.clientSecret, ...github.urls, tokenURL: `http://127.0.0.1:${port}/token` } },
    });
  });
  afterAll(async () => {
    await t.close();
    await github.stop();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('answers 502 provider_unavailable after the provider timeout and creates no user', async () => {
    github.nextUser = github.makeUser();
    const begin = rememberBrowser(await t.http.post('/api/v1/users/login/oauth').send({ provider: 'github' }));
    expect(begin.status).toBe(200);
    const started = Date.now();
    const res = await followOAuth(t.http, begin.body.redirect_url);
    const elapsed = Date.now() - started;
    expect(res.status).toBe(502);
    expect(res.body.code).toBe('provider_unavailable');
    expect(elapsed).toBeGreaterThanOrEqual(9_000);
    expect(elapsed).toBeLessThan(15_000);
    expect(sockets.size).toBeGreaterThan(0); // the request really reached the silent server
    const rows = await rawQuery<{ n: number }>(`select count(*)::int as n from "${t.schema}".users`);
    expect(rows[0]?.n).toBe(0);
  }, 30_000);
});
