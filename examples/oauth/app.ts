import express from 'express';
import { AuthManager, type AuthManagerOptions } from 'express-authlib';

/**
 * Sign in with Google or GitHub. A tiny page links to both; after the provider sends the browser
 * back, the library redirects to /done with the tokens in the URL fragment, where the page's script
 * (not the server) reads them.
 */
export function createOAuthApp(options: AuthManagerOptions & { publicUrl: string }) {
  const app = express();
  const auth = new AuthManager(app, { oauthRedirect: `${options.publicUrl}/done`, ...options });

  app.get('/', (_req, res) => {
    res.type('html').send(`<!doctype html><title>express-authlib OAuth demo</title>
<button onclick="go('google')">Sign in with Google</button> <button onclick="go('github')">Sign in with GitHub</button>
<script>
async function go(provider) {
  const r = await fetch('/api/v1/users/login/oauth', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ provider }) });
  const body = await r.json();
  if (body.redirect_url) location.href = body.redirect_url; else alert(body.error);
}
</script>`);
  });

  app.get('/done', (_req, res) => {
    res.type('html').send(`<!doctype html><title>signed in</title><pre id="out"></pre>
<script>
const p = new URLSearchParams(location.hash.slice(1));
history.replaceState(null, '', '/done'); // take the tokens out of the address bar
if (p.get('error')) document.getElementById('out').textContent = 'failed: ' + p.get('error');
else fetch('/me', { headers: { Authorization: 'Bearer ' + p.get('token') } })
  .then((r) => r.json()).then((me) => { document.getElementById('out').textContent = JSON.stringify(me, null, 2); });
</script>`);
  });

  app.get('/me', auth.requireAuth(), async (req, res) => {
    const github = await auth.integrations.get(req.auth!.user.id, 'github');
    res.json({ user: req.auth!.user, github_linked: Boolean(github), github_scopes: github?.scopes ?? [] });
  });

  return { app, auth };
}
