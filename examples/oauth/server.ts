import type { OAuthProviderConfig } from 'express-authlib';
import { createOAuthApp } from './app.js';

// Configure the providers you have credentials for (see docs/guide/oauth.md):
//   GOOGLE_CLIENT_ID / GOOGLE_CLIENT_SECRET, GITHUB_CLIENT_ID / GITHUB_CLIENT_SECRET,
//   OIDC_ISSUER / OIDC_CLIENT_ID / OIDC_CLIENT_SECRET (any OpenID Connect provider, shown as "oidc"),
//   PUBLIC_URL (default http://localhost:3000), JWT_SECRET (>= 32 bytes), DATABASE_URL (default embedded PGlite).
const env = process.env;
const publicUrl = env.PUBLIC_URL ?? 'http://localhost:3000';
const oauthConfig: Record<string, OAuthProviderConfig> = {};
if (env.GOOGLE_CLIENT_ID && env.GOOGLE_CLIENT_SECRET) oauthConfig.google = { clientId: env.GOOGLE_CLIENT_ID, clientSecret: env.GOOGLE_CLIENT_SECRET };
if (env.GITHUB_CLIENT_ID && env.GITHUB_CLIENT_SECRET) oauthConfig.github = { clientId: env.GITHUB_CLIENT_ID, clientSecret: env.GITHUB_CLIENT_SECRET };
if (env.OIDC_ISSUER && env.OIDC_CLIENT_ID && env.OIDC_CLIENT_SECRET)
  oauthConfig.oidc = { issuer: env.OIDC_ISSUER, clientId: env.OIDC_CLIENT_ID, clientSecret: env.OIDC_CLIENT_SECRET };
if (!env.JWT_SECRET || Object.keys(oauthConfig).length === 0) {
  console.error('set JWT_SECRET and the credentials of at least one provider (Google, GitHub, or OIDC_ISSUER/OIDC_CLIENT_ID/OIDC_CLIENT_SECRET)');
  process.exit(1);
}

const { app, auth } = createOAuthApp({ dbDsn: env.DATABASE_URL ?? 'pglite://./.authlib-oauth', jwtSecret: env.JWT_SECRET, publicUrl, oauthConfig });
await auth.ready;
const port = Number(new URL(publicUrl).port || 3000);
app.listen(port, () => {
  console.log(`OAuth demo on ${publicUrl}; callback URL to register with the providers: ${publicUrl}/api/v1/users/login/oauth2callback`);
});
