// CPU time of one requireAuth call, outside HTTP: what the guard itself costs per request, measured
// in CPU microseconds so that other load on the machine barely moves it. `npm run bench`.
import { randomBytes } from 'node:crypto';
import { AuthManager } from 'express-authlib';
import type { IncomingMessage, ServerResponse } from 'node:http';

const N = 50_000;
const auth = new AuthManager(null, {
  dbDsn: process.env.BENCH_DSN ?? 'pglite://memory',
  jwtSecret: randomBytes(48),
  rateLimit: false,
  bcryptRounds: 4,
  logger: false,
  permissions: { 'reports:read': ['editor'] },
});
await auth.ready;
const user = await auth.users.create({ username: 'guard', email: 'guard@example.com', password: 'benchmark-password' });
const { token } = await auth.issueTokens(user.id);
const apiToken = (await auth.apiTokens.create(user.id, { name: 'bench' })).token;

type Guard = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

async function perCall(guard: Guard, headers: Record<string, string>, n = N): Promise<number> {
  const res = {
    statusCode: 200,
    setHeader() {},
    end() {
      throw new Error('rejected');
    },
  } as unknown as ServerResponse;
  const run = (n: number) =>
    new Promise<void>((resolve, reject) => {
      let left = n;
      const req = { headers, method: 'GET', url: '/' } as unknown as IncomingMessage;
      const next = (err?: unknown) => {
        if (err) return reject(err instanceof Error ? err : new Error('guard failed'));
        if (--left === 0) return resolve();
        // A fresh turn each time, as separate requests would get.
        setImmediate(() => guard(req, res, next));
      };
      guard(req, res, next);
    });
  await run(Math.min(n, 5_000)); // warm-up
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const start = process.cpuUsage();
    await run(n);
    const used = process.cpuUsage(start);
    rounds.push((used.user + used.system) / n);
  }
  return rounds.sort((a, b) => a - b)[2]!;
}

const baseline = await perCall((_req, _res, next) => next(), {});
const jwtGuard = await perCall(auth.requireAuth(), { authorization: `Bearer ${token}` });
const rolesGuard = await perCall(auth.requireAuth({ roles: ['user'] }), { authorization: `Bearer ${token}` });
const apiGuard = await perCall(auth.requireAuth(), { 'x-api-token': apiToken }, 5_000);
// A member of a team inside the organization: the organization's guard (membership inherited one
// level up, a plain one), and the team's with a role there and with a permission its roles grant.
const acme = await auth.groups.create({ name: 'Acme', slug: 'acme' });
const team = await auth.groups.create({ name: 'Acme Web', slug: 'acme-web', parent_id: acme.id });
await auth.groups.addMember(team.id, { user_id: user.id, roles: ['editor'] });
const groupGuard = await perCall(auth.requireAuth({ group: () => 'acme' }), { authorization: `Bearer ${token}` });
const groupRoleGuard = await perCall(auth.requireAuth({ group: () => 'acme-web', groupRoles: ['editor'] }), { authorization: `Bearer ${token}` });
const groupPermissionGuard = await perCall(auth.requireAuth({ group: () => 'acme-web', permission: 'reports:read' }), { authorization: `Bearer ${token}` });
console.log(`\nCPU µs per guarded call (median of 5 x ${N.toLocaleString()}), outside HTTP, Node ${process.version}`);
console.log(`no guard (the loop itself)     ${baseline.toFixed(2)}`);
console.log(`requireAuth, access JWT        ${jwtGuard.toFixed(2)}   (+${(jwtGuard - baseline).toFixed(2)})`);
console.log(`requireAuth({roles}), JWT      ${rolesGuard.toFixed(2)}   (+${(rolesGuard - baseline).toFixed(2)})`);
console.log(`requireAuth, API token         ${apiGuard.toFixed(2)}   (+${(apiGuard - baseline).toFixed(2)})`);
console.log(`requireAuth({group}), JWT      ${groupGuard.toFixed(2)}   (+${(groupGuard - baseline).toFixed(2)})`);
console.log(`({group, groupRoles}), JWT     ${groupRoleGuard.toFixed(2)}   (+${(groupRoleGuard - baseline).toFixed(2)})`);
console.log(`({group, permission}), JWT     ${groupPermissionGuard.toFixed(2)}   (+${(groupPermissionGuard - baseline).toFixed(2)})`);
await auth.close();
