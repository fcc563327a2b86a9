// Does anything about groups depend on the number of groups? The same requests on PostgreSQL with
// 1,000 and with 100,000 groups, seeded by SQL: ten roots, each a tree ten levels deep (a leaf has
// ten ancestors), every 50th group below the roots with a second parent in another tree, and a few
// thousand users with two memberships each. Median and p99 of SAMPLE requests through HTTP, with
// a user's access JWT: GET /{user}/groups for a user with memberships at the deepest level and for
// one with 20 direct memberships, GET /groups/{id} of a root and of a leaf, and POST
// /groups/{leaf}/children {child_id: its root}, a cycle that must be refused with 409.
// `npm run bench`; not part of `npm test`. BENCH_DSN as in scale; BENCH_GROUPS=1000,100000 sets the sizes.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { BENCH_PG_DSN, connectOrSkip } from './postgres.js';
import { AuthManager } from 'express-authlib';
import { dropBenchSchema } from './drop-schema.js';
import { change, describeMachine, median, percentile, previousResults, saveResults } from './results.js';

const DSN = BENCH_PG_DSN;
const SIZES = (process.env.BENCH_GROUPS ?? '1000,100000').split(',').map(Number);
const SAMPLE = 200;
const ROOTS = 10;
/** Edges from a root to a leaf: a leaf has DEPTH ancestors. */
const DEPTH = 10;
const USERS = 3000;
const PASSWORD = 'benchmark password 123';
const SECRET = randomBytes(48).toString('base64url');
const since = (t0: number) => performance.now() - t0;

const client = await connectOrSkip('groups');
const q = (text: string, params: unknown[] = []) => client.query(text, params);

/**
 * How many groups each level holds: ROOTS at level 0, growing by one ratio per level, `total` in
 * all (the last level takes the rounding). Every level has at least as many groups as the one above.
 */
function levelSizes(total: number): number[] {
  const sizesFor = (r: number) => Array.from({ length: DEPTH + 1 }, (_, l) => Math.max(ROOTS, Math.round(ROOTS * r ** l)));
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  let lo = 1;
  let hi = 10;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (sum(sizesFor(mid)) > total) hi = mid;
    else lo = mid;
  }
  const sizes = sizesFor(lo);
  sizes[DEPTH]! += total - sum(sizes);
  return sizes;
}

/**
 * A schema migrated by the library and filled by SQL. Group `i` of level `l` has the slug `l<l>-<i>`
 * and hangs under group floor(i * size(l-1) / size(l)) of the level above, so each root's tree is a
 * contiguous range at every level and the ten trees stay apart except through the second parents.
 */
async function seed(schema: string, total: number, sizes: number[]): Promise<void> {
  const s = `"${schema}"`;
  const t0 = performance.now();
  await q(
    `insert into ${s}.groups (name, slug)
           select 'Group ' || l || '.' || i, 'l' || l || '-' || i
           from unnest($1::int[]) with ordinality as sizes(n, lp1), lateral (select lp1 - 1 as l) level, generate_series(0, n - 1) i`,
    [sizes],
  );
  await q(`create temp table pos on commit preserve rows as
           select id, substr(split_part(slug, '-', 1), 2)::int as lvl, split_part(slug, '-', 2)::int as idx,
                  (row_number() over (order by substr(split_part(slug, '-', 1), 2)::int, split_part(slug, '-', 2)::int) - 1)::int as gidx
           from ${s}.groups`);
  await q(`create index on pos (lvl, idx)`);
  await q(`create index on pos (gidx)`);
  for (let l = 1; l <= DEPTH; l++) {
    const [up, here] = [sizes[l - 1]!, sizes[l]!];
    await q(`insert into ${s}.group_parents (parent_id, child_id)
             select p.id, c.id from pos c join pos p on p.lvl = ${l - 1} and p.idx = (c.idx::bigint * ${up} / ${here})::int where c.lvl = ${l}`);
    // A second parent half a level away, in another root's tree (edges only go one level down: no cycle).
    await q(`insert into ${s}.group_parents (parent_id, child_id)
             select p.id, c.id from pos c join pos p on p.lvl = ${l - 1} and p.idx = ((c.idx::bigint * ${up} / ${here}) + ${Math.floor(up / 2)})::int % ${up}
             where c.lvl = ${l} and c.idx % 50 = 7`);
  }
  await q(`insert into ${s}.users (username, username_key, email, email_key, created_at, updated_at)
           select 'bu' || k, 'bu' || k, 'bu' || k || '@example.com', 'bu' || k || '@example.com', now(), now() from generate_series(1, ${USERS}) k`);
  // Two memberships per user, spread over the whole table (most groups are deep ones).
  for (const prime of [7919, 104729]) {
    await q(`insert into ${s}.group_members (group_id, user_id, roles)
             select pos.id, u.id, '{}' from ${s}.users u join pos on pos.gidx = (substr(u.username, 3)::bigint * ${prime}) % ${total}
             where u.username like 'bu%'
             on conflict do nothing`);
  }
  for (const table of ['groups', 'group_parents', 'group_members', 'users']) await q(`analyze ${s}.${table}`);
  console.log(
    `seeded ${total.toLocaleString('en')} groups (levels ${sizes.join('/')}) and ${USERS.toLocaleString('en')} users in ${(since(t0) / 1000).toFixed(1)} s`,
  );
}

/** The id of group `idx` of level `lvl`. */
async function groupAt(lvl: number, idx: number): Promise<string> {
  return (await q(`select id from pos where lvl = $1 and idx = $2`, [lvl, idx])).rows[0].id as string;
}

interface Stats {
  median_ms: number;
  p99_ms: number;
}

async function measure(total: number) {
  const sizes = levelSizes(total);
  const schema = `bench_groups_${randomBytes(4).toString('hex')}`;
  const app = express();
  const auth = new AuthManager(app, { dbDsn: DSN, dbSchema: schema, jwtSecret: SECRET, rateLimit: false, bcryptRounds: 4, logger: false });
  try {
    await auth.ready;
    await seed(schema, total, sizes);
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/users`;
    try {
      const leafCount = sizes[DEPTH]!;
      // Leaves a twentieth, a third and two thirds of the way along: in the trees of roots 0, 3 and 6.
      const leaves = [Math.floor(leafCount / 20), Math.floor(leafCount / 3) + 1, Math.floor((2 * leafCount) / 3) + 2];
      const leafIds: string[] = [];
      for (const i of leaves) leafIds.push(await groupAt(DEPTH, i));
      const root = await groupAt(0, 0);
      const wideIds = (await q(`select id from pos where gidx = any($1::int[])`, [Array.from({ length: 20 }, (_, i) => Math.floor(((i + 0.5) * total) / 20))]))
        .rows as Array<{ id: string }>;

      const user = async (name: string, memberships: string[], roles: string[] = []) => {
        const made = await auth.users.create({ username: name, email: `${name}@example.com`, password: PASSWORD });
        for (const g of memberships) await q(`insert into "${schema}".group_members (group_id, user_id, roles) values ($1, $2, $3)`, [g, made.id, roles]);
        const res = await fetch(`${base}/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: name, password: PASSWORD }),
        });
        if (res.status !== 200) throw new Error(`login answered ${res.status}`);
        return { id: made.id, auth: { authorization: `Bearer ${((await res.json()) as { token: string }).token}` } };
      };
      const deep = await user('deep_member', leafIds);
      const wide = await user(
        'wide_member',
        wideIds.map((r) => r.id),
      );
      const boss = await user('root_admin', [root], ['admin']);

      /** SAMPLE requests after ten warm-up ones, each answered with `status`. */
      const timed = async (status: number, send: () => Promise<Response>): Promise<Stats & { body: unknown }> => {
        let body: unknown;
        const times: number[] = [];
        for (let i = 0; i < SAMPLE + 10; i++) {
          const t0 = performance.now();
          const res = await send();
          body = await res.json();
          if (res.status !== status) throw new Error(`answered ${res.status} (expected ${status}): ${JSON.stringify(body)}`);
          if (i >= 10) times.push(since(t0));
        }
        return { median_ms: Number(median(times).toFixed(2)), p99_ms: Number(percentile(times, 99).toFixed(2)), body };
      };
      const get = (path: string, headers: Record<string, string>) => () => fetch(base + path, { headers });

      const { body: deepGroups, ...userGroupsDeep } = await timed(200, get('/me/groups', deep.auth));
      const { body: wideGroups, ...userGroupsWide } = await timed(200, get('/me/groups', wide.auth));
      const { body: rootBody, ...getRoot } = await timed(200, get(`/groups/${root}`, deep.auth));
      const { body: leafBody, ...getLeaf } = await timed(200, get(`/groups/${leafIds[0]}`, deep.auth));
      const { body: refused, ...cycle } = await timed(409, () =>
        fetch(`${base}/groups/${leafIds[0]}/children`, {
          method: 'POST',
          headers: { ...boss.auth, 'content-type': 'application/json' },
          body: JSON.stringify({ child_id: root }),
        }),
      );
      if ((refused as { code?: string }).code !== 'conflict') throw new Error(`the cycle was refused with ${JSON.stringify(refused)}`);
      const ancestorsOfLeaf = (deepGroups as Array<{ via: { id: string } }>).filter((g) => g.via.id === leafIds[0]).length - 1;
      return {
        groups: total,
        levels: sizes,
        deep_user_groups: (deepGroups as unknown[]).length,
        leaf_ancestors: ancestorsOfLeaf,
        wide_user_groups: (wideGroups as unknown[]).length,
        root_children: (rootBody as { children: unknown[] }).children.length,
        leaf_parents: (leafBody as { parents: unknown[] }).parents.length,
        user_groups_deep: userGroupsDeep,
        user_groups_wide: userGroupsWide,
        get_root: getRoot,
        get_leaf: getLeaf,
        cycle_refused: cycle,
      };
    } finally {
      server.close();
    }
  } finally {
    await auth.close();
    await q(`drop table if exists pos`);
    await dropBenchSchema(schema);
  }
}

process.env.BENCH_DSN = DSN;
const rows = [];
for (const n of SIZES) rows.push(await measure(n));
await client.end();

type Row = (typeof rows)[number];
const FIGURES: Array<[keyof Row & ('user_groups_deep' | 'user_groups_wide' | 'get_root' | 'get_leaf' | 'cycle_refused'), string]> = [
  ['user_groups_deep', 'GET /me/groups, memberships at leaves'],
  ['user_groups_wide', 'GET /me/groups, 20 direct memberships'],
  ['get_root', 'GET /groups/{root}'],
  ['get_leaf', 'GET /groups/{leaf}'],
  ['cycle_refused', 'POST /groups/{leaf}/children {root}: 409'],
];
const previous = previousResults<{ rows: Row[] }>('groups');
const small = rows[0]!;
const fmt = (s: Stats) => `${s.median_ms.toFixed(2)}/${s.p99_ms.toFixed(2)} ms`;
console.log(`\ngroups on PostgreSQL, ${SAMPLE} requests per figure, depth ${DEPTH}, ${ROOTS} roots; ${describeMachine()}`);
for (const r of rows)
  console.log(
    `${r.groups.toLocaleString('en')} groups: a leaf has ${r.leaf_ancestors} ancestors, the deep user is in ${r.deep_user_groups} groups, the wide one in ${r.wide_user_groups}`,
  );
console.log(
  `${'request'.padEnd(44)} ${rows.map((r) => `${r.groups.toLocaleString('en')} groups p50/p99`.padEnd(26)).join(' ')} ${'ratio p50/p99'.padEnd(14)} vs last run (p50)`,
);
for (const [key, label] of FIGURES) {
  const big = rows.at(-1)!;
  const ratio = `${(big[key].median_ms / small[key].median_ms).toFixed(2)}/${(big[key].p99_ms / small[key].p99_ms).toFixed(2)}`;
  const vsLast = rows
    .map((r) => {
      const before = previous?.rows.find((p) => p.groups === r.groups)?.[key].median_ms;
      const c = change(r[key].median_ms, before);
      return c ? `${r.groups.toLocaleString('en')}: ${c}` : '';
    })
    .filter(Boolean)
    .join(', ');
  console.log(`${label.padEnd(44)} ${rows.map((r) => fmt(r[key]).padEnd(26)).join(' ')} ${ratio.padEnd(14)} ${vsLast}`);
}
saveResults('groups', { sample: SAMPLE, depth: DEPTH, roots: ROOTS, users: USERS, rows });
