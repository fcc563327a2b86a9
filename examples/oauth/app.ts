import express from 'express';
import { AuthManager, type AuthManagerOptions } from 'express-authlib';

const LABELS: Record<string, string> = { google: 'Google', github: 'GitHub' };
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Sign in with any configured provider (Google, GitHub, an OpenID Connect provider by issuer URL).
 * Each button is a plain link to `GET /api/v1/users/login/oauth/{provider}`: a top-level navigation,
 * so the browser keeps the cookie that binds the flow to it. After the provider sends the browser
 * back, the library redirects to /done with the tokens in the URL fragment, where the page's script
 * (not the server) reads them.
 */
export function createOAuthApp(options: AuthManagerOptions & { publicUrl: string }) {
  const app = express();
  const auth = new AuthManager(app, { oauthRedirect: `${options.publicUrl}/done`, ...options });
  const providers = Object.keys(options.oauthConfig ?? {});

  app.get('/', (_req, res) => {
    const buttons = providers
      .map((name) => `<a class="signin" href="/api/v1/users/login/oauth/${encodeURIComponent(name)}">Sign in with ${escapeHtml(LABELS[name] ?? name)}</a>`)
      .join('\n');
    res.type('html').send(`<!doctype html><title>express-authlib OAuth demo</title>\n${buttons}`);
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
    const identities = await Promise.all(providers.map(async (name) => ((await auth.integrations.get(req.auth!.user.id, name)) ? name : undefined)));
    res.json({ user: req.auth!.user, github_linked: Boolean(github), github_scopes: github?.scopes ?? [], linked: identities.filter(Boolean) });
  });

  return { app, auth };
}
