// The documentation site: VitePress over the Markdown of docs/, which reads the same on GitHub.
// `npm run docs:build` generates the TypeScript API pages (TypeDoc, docs/reference/api/) and then
// this site into docs/.vitepress/dist, with no network (local search; diagrams are SVG files
// rendered from their Mermaid sources in docs/diagrams by `npm run docs:diagrams`).
import { existsSync } from 'node:fs';
import { slug } from 'github-slugger';
import { defineConfig } from 'vitepress';

const guides = [
  { text: 'Getting started', link: '/guide/getting-started' },
  { text: 'Adding auth to an existing app', link: '/guide/existing-app' },
  { text: 'Roles, permissions and guards', link: '/guide/roles-and-guards' },
  { text: 'API tokens and service keys', link: '/guide/api-tokens' },
  { text: 'OAuth and OpenID Connect', link: '/guide/oauth' },
  { text: 'Account lifecycle and mail', link: '/guide/account-lifecycle' },
  { text: 'MFA and passkeys', link: '/guide/mfa' },
  { text: 'Administration and impersonation', link: '/guide/administration' },
  { text: 'Groups and multi-tenant apps', link: '/guide/groups' },
  { text: 'Browser front ends', link: '/guide/browser' },
  { text: 'Sessions, signing keys and introspection', link: '/guide/sessions-and-keys' },
  { text: 'Testing your app', link: '/guide/testing' },
  { text: 'Running in production', link: '/guide/production' },
  { text: 'Security model and threat model', link: '/guide/security' },
  { text: 'Performance', link: '/guide/performance' },
  { text: 'Contributing', link: '/guide/contributing' },
];

const migrating = [
  { text: 'From passport + passport-jwt', link: '/migrating/passport' },
  { text: 'From express-jwt', link: '/migrating/express-jwt' },
  { text: 'From better-auth', link: '/migrating/better-auth' },
];

const reference = [
  { text: 'Options', link: '/reference/options' },
  { text: 'Endpoints', link: '/reference/endpoints' },
  { text: 'Error codes', link: '/reference/errors' },
  { text: 'CLI', link: '/reference/cli' },
  { text: 'Programmatic API', link: '/reference/programmatic-api' },
  { text: 'TypeScript API (generated)', link: '/reference/api/' },
];

export default defineConfig({
  title: 'express-authlib',
  description: 'Authentication for Express and Connect apps',
  cleanUrls: false,
  lastUpdated: false,
  // Anchors as GitHub makes them, so one link works on GitHub and on the site.
  markdown: { anchor: { slugify: (s: string) => slug(s) } },
  // Links out of docs/ (the repository's source, tests and examples) are for readers on GitHub.
  // The migration guides are written separately: until docs/migrating/ exists, links to it are
  // let through (once it does, they are checked like any other).
  ignoreDeadLinks: [
    ...(existsSync(new URL('../migrating/', import.meta.url)) ? [] : [/(^|\/)migrating\//]),
    /^https?:\/\/(localhost|127\.0\.0\.1)/,
    /^(\.\.\/)+(src|test|examples|bench|sql|cli|scripts|package\.json|README)/,
  ],
  themeConfig: {
    nav: [
      { text: 'Guide', link: '/guide/getting-started' },
      { text: 'Migrating', link: '/migrating/passport' },
      { text: 'Reference', link: '/reference/options' },
    ],
    sidebar: [
      { text: 'Guides', items: guides },
      { text: 'Migrating', items: migrating },
      { text: 'Reference', items: reference },
    ],
    search: { provider: 'local' },
    outline: { level: [2, 3] },
  },
});
