import { bearer, registerUser, type TestApp } from './app.js';
import { BASE, loginOk } from './endpoints.js';

/** A registered user made an admin, signed in again (the role change ended its first token). */
export async function registerAdmin(t: TestApp, fields: { username?: string; email?: string } = {}) {
  const u = await registerUser(t, fields);
  await t.auth.users.setRoles(u.user.id, ['admin', 'user']);
  const { token, refresh_token } = await loginOk(t, u.username);
  return { ...u, token, refresh_token };
}

/** Requests to the admin endpoints as `token`. */
export function adminApi(t: TestApp, token: string) {
  const auth = bearer(token);
  return {
    listUsers: (query = '') => t.http.get(`${BASE}/admin/users${query}`).set(auth),
    createUser: (body: Record<string, unknown>) => t.http.post(`${BASE}/admin/users`).set(auth).send(body),
    getUser: (id: string) => t.http.get(`${BASE}/admin/users/${id}`).set(auth),
    patchUser: (id: string, body: Record<string, unknown>) => t.http.patch(`${BASE}/admin/users/${id}`).set(auth).send(body),
    deleteUser: (id: string) => t.http.delete(`${BASE}/admin/users/${id}`).set(auth),
    logoutAll: (id: string) => t.http.post(`${BASE}/admin/users/${id}/logout-all`).set(auth),
    listRoles: () => t.http.get(`${BASE}/admin/roles`).set(auth),
    createRole: (name: unknown) => t.http.post(`${BASE}/admin/roles`).set(auth).send({ name }),
    deleteRole: (name: string) => t.http.delete(`${BASE}/admin/roles/${encodeURIComponent(name)}`).set(auth),
    events: (query = '') => t.http.get(`${BASE}/admin/events${query}`).set(auth),
    impersonate: (user: string, body: Record<string, unknown> = {}) => t.http.post(`${BASE}/${user}/impersonate`).set(auth).send(body),
  };
}
