import express from 'express';
import { AuthManager, type AuthManagerOptions } from 'express-authlib';

interface Project {
  id: number;
  name: string;
  created_by: string;
}

/**
 * A small multi-tenant API: each organization is a group, and its projects live under
 * /orgs/:org/projects, where :org is the group's id or slug. requireAuth({ group }) lets in members
 * of that organization (directly or through one of its teams, which are child groups) and answers
 * 404 to everyone else, so outsiders cannot even learn which organizations exist.
 *
 * People join an organization by invitation, through the library's endpoints: an admin of it
 * sends `POST /api/v1/users/groups/{org}/invitations {username | email, roles}` (the invitee is
 * mailed when a `mailer` is set), and the invitee lists `GET /api/v1/users/me/invitations` and
 * accepts `POST /api/v1/users/me/invitations/{id}/accept`; from then on these routes let them in
 * with those roles.
 */
export function createApp(options: AuthManagerOptions) {
  const app = express();
  const auth = new AuthManager(app, { ...options, permissions: { 'reports:read': ['auditor'], ...options.permissions } });
  // The example keeps projects in memory, per organization id.
  const projects = new Map<string, Project[]>();
  let nextId = 1;

  const org = (req: express.Request) => req.params.org;
  /**
   * The organization as the guard resolved it: the caller's membership of it (ids compared in
   * lower case, since the guard accepts an id in either case; an admin from above is a member too
   * in this example, where organizations are top-level).
   */
  const orgOf = (req: express.Request) => {
    const ref = String(org(req)).toLowerCase();
    return req.auth!.groups.find((g) => g.id === ref || g.slug === ref)!;
  };
  app.use(express.json());

  // Any member, and the organization's service keys.
  app.get('/orgs/:org/projects', auth.requireAuth({ group: org, allowServiceKeys: true }), (req, res) => {
    res.json({ org: orgOf(req).slug, projects: projects.get(orgOf(req).id) ?? [] });
  });

  // Members holding `editor` or `admin` in the organization itself (a role held in a team below
  // does not count here), and the organization's own service keys with the `editor` scope.
  app.post('/orgs/:org/projects', auth.requireAuth({ group: org, groupRoles: ['editor', 'admin'] }), (req, res) => {
    const name = typeof req.body?.name === 'string' ? req.body.name.trim() : '';
    if (!name) return void res.status(400).json({ error: 'name is required', code: 'validation_error', status_code: 400 });
    // A service key acts for its group, not a person (req.auth.user is null then).
    const by = req.auth!.method === 'service_key' ? `service key of ${req.auth!.group!.slug}` : req.auth!.user.username;
    const project = { id: nextId++, name, created_by: by };
    const list = projects.get(orgOf(req).id) ?? [];
    list.push(project);
    projects.set(orgOf(req).id, list);
    res.status(201).json(project);
  });

  // Only the organization's admins.
  app.delete('/orgs/:org/projects/:id', auth.requireAuth({ group: org, groupRoles: ['admin'] }), (req, res) => {
    const list = projects.get(orgOf(req).id) ?? [];
    const at = list.findIndex((p) => p.id === Number(req.params.id));
    if (at === -1) return void res.status(404).json({ error: 'no such project', code: 'not_found', status_code: 404 });
    list.splice(at, 1);
    res.json({ success: true });
  });

  // A permission inside the organization: granted by the caller's roles in it (`auditor` grants
  // `reports:read`), for users and the organization's service keys alike; a site role does not.
  app.get('/orgs/:org/report', auth.requireAuth({ group: org, permission: 'reports:read' }), (req, res) => {
    res.json({ org: orgOf(req).slug, projects: (projects.get(orgOf(req).id) ?? []).length });
  });

  return { app, auth };
}
