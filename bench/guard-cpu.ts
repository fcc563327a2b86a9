// CPU time of one requireAuth call, outside HTTP: what the guard itself costs per request, measured
// in CPU microseconds so that other load on the machine barely moves it, and the bytes it allocates
// (every byte a request allocates is young-generation space the collector scans or copies sooner).
// fast-jwt with its cache, the fastest JWT check there is, is measured the same way. `npm run bench`.
import { randomBytes } from 'node:crypto';
import { getHeapSpaceStatistics } from 'node:v8';
import { AuthManager } from 'express-authlib';
import { createVerifier } from 'fast-jwt';
import type { IncomingMessage, ServerResponse } from 'node:http';

const N = 50_000;
const secret = randomBytes(48);
const auth = new AuthManager(null, {
  dbDsn: process.env.BENCH_DSN ?? 'pglite://memory',
  jwtSecret: secret,
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

const youngUsed = () => getHeapSpaceStatistics().find((x) => x.space_name === 'new_space')!.space_used_size;

/** CPU µs and bytes allocated per call of `guard`, each the median of several measurements. */
async function perCall(guard: Guard, headers: Record<string, string>, n = N): Promise<{ us: number; bytes: number }> {
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
  // Allocation: the young generation's growth over a batch of calls. A batch during which a
  // scavenge ran shows no growth, and is measured again.
  const batch = 200;
  const sizes: number[] = [];
  while (sizes.length < 9) {
    const before = youngUsed();
    await run(batch);
    const grown = youngUsed() - before;
    if (grown > 0) sizes.push(grown / batch);
  }
  return { us: rounds.sort((a, b) => a - b)[2]!, bytes: sizes.sort((a, b) => a - b)[4]! };
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
// The peer, on the same token: signature and claims (issuer and audience, as bench/server.ts checks
// them), cached per token, no revocation.
const verify = createVerifier({ key: secret, algorithms: ['HS256'], allowedIss: 'express-authlib', allowedAud: 'express-authlib', cache: true });
const fastJwt = await perCall(
  (req, _res, next) => {
    (req as { auth?: unknown }).auth = verify((req.headers.authorization ?? '').slice(7));
    next();
  },
  { authorization: `Bearer ${token}` },
);
console.log(`\nPer guarded call, outside HTTP (CPU: median of 5 x ${N.toLocaleString()}; bytes: median of 9 x 200), Node ${process.version}`);
console.log('                               CPU µs          bytes allocated');
const line = (label: string, x: { us: number; bytes: number }) =>
  console.log(
    `${label.padEnd(30)} ${x.us.toFixed(2).padStart(6)} (+${(x.us - baseline.us).toFixed(2)})  ${String(Math.round(x.bytes)).padStart(6)} (+${Math.round(x.bytes - baseline.bytes)})`,
  );
line('no guard (the loop itself)', baseline);
line('requireAuth, access JWT', jwtGuard);
line('requireAuth({roles}), JWT', rolesGuard);
line('requireAuth, API token', apiGuard);
line('requireAuth({group}), JWT', groupGuard);
line('({group, groupRoles}), JWT', groupRoleGuard);
line('({group, permission}), JWT', groupPermissionGuard);
line('fast-jwt 6, cached', fastJwt);
await auth.close();
