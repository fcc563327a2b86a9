import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthManager } from '../src/index.js';
import { TEST_DSN, dropSchema, uniqueSchema } from './helpers/database.js';
import { BASE } from './helpers/endpoints.js';
import { ORIGIN, SoftAuthenticator, WEBAUTHN } from './helpers/passkeys.js';

// `authlib user passkeys <user> [--remove <id>]` as an operator runs it: the built bin, against
// PostgreSQL (AUTHLIB_TEST_DSN) or an embedded PGlite directory, after an app registered passkeys.
// Run `npm run build` first.

const BIN = join(process.cwd(), 'bin', 'authlib.js');
const PASSWORD = 'correct horse battery staple';

describe('authlib user passkeys', () => {
  const schema = uniqueSchema('clip');
  const dir = TEST_DSN ? undefined : mkdtempSync(join(tmpdir(), 'authlib-passkeys-'));
  const dsn = TEST_DSN ?? `pglite://${dir}`;
  const ids: Record<string, string> = {};

  function authlib(args: string[]) {
    const result = spawnSync(process.execPath, [BIN, ...args, '--dsn', dsn, '--schema', schema], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '' },
      timeout: 60_000,
    });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  beforeAll(async () => {
    // An app on the same database: two users, one with two passkeys, one without a password and one passkey.
    const app = express();
    const auth = new AuthManager(app, {
      dbDsn: dsn,
      dbSchema: schema,
      jwtSecret: 'c'.repeat(40),
      bcryptRounds: 4,
      rateLimit: false,
      logger: false,
      webauthn: WEBAUTHN,
    });
    try {
      await auth.ready;
      const http = request(app);
      const enrol = async (userId: string, name: string) => {
        const { token } = await auth.issueTokens(userId);
        const options = await http.post(`${BASE}/passkeys/register/options`).set('Authorization', `Bearer ${token}`).send({});
        const response = new SoftAuthenticator().create(options.body.options, { origin: ORIGIN });
        const res = await http
          .post(`${BASE}/passkeys/register`)
          .set('Authorization', `Bearer ${token}`)
          .send({ challenge_id: options.body.challenge_id, response, name });
        expect(res.status, res.text).toBe(201);
        return res.body.passkey.id as string;
      };
      ids.dana = (await auth.users.create({ username: 'dana', email: 'dana@example.com', password: PASSWORD, email_verified: true })).id;
      ids.danaLaptop = await enrol(ids.dana, 'Laptop');
      ids.danaPhone = await enrol(ids.dana, 'Phone');
      ids.erin = (await auth.users.create({ username: 'erin', email: 'erin@example.com', email_verified: true })).id;
      ids.erinKey = await enrol(ids.erin, 'Key');
    } finally {
      await auth.close();
    }
  }, 120_000);
  afterAll(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    else await dropSchema(schema);
  });

  it('lists a user’s passkeys as a table (by username, email or id), or as JSON', () => {
    const table = authlib(['user', 'passkeys', 'dana']);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+DEVICE\s+BACKED UP\s+CREATED\s+LAST USED$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 2))).toEqual([
      [ids.danaLaptop, 'Laptop'],
      [ids.danaPhone, 'Phone'],
    ]);
    const json = JSON.parse(authlib(['user', 'passkeys', 'DANA@example.com', '--json']).stdout) as Array<{ id: string; name: string }>;
    expect(json.map((p) => p.name)).toEqual(['Laptop', 'Phone']);
    expect(Object.keys(json[0]!).sort()).toEqual(['backed_up', 'created_at', 'device_type', 'id', 'last_used_at', 'name']);
    expect(JSON.parse(authlib(['user', 'passkeys', ids.erin!, '--json']).stdout)).toHaveLength(1);
  }, 120_000);

  it('--remove removes one; the last way to sign in stays (exit 1, one line); unknown ids and users fail alike', () => {
    const removed = authlib(['user', 'passkeys', 'dana', '--remove', ids.danaPhone!]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout.trim()).toBe(`removed passkey ${ids.danaPhone} of user dana (${ids.dana})`);
    expect(JSON.parse(authlib(['user', 'passkeys', 'dana', '--json']).stdout).map((p: { id: string }) => p.id)).toEqual([ids.danaLaptop]);

    const last = authlib(['user', 'passkeys', 'erin', '--remove', ids.erinKey!]);
    expect(last.code).toBe(1);
    expect(last.stderr.trim().split('\n')).toHaveLength(1);
    expect(last.stderr).toMatch(/^authlib: this is the only way this user can sign in/);
    // Another user's passkey id is not found under this user.
    expect(authlib(['user', 'passkeys', 'erin', '--remove', ids.danaLaptop!]).stderr).toMatch(/^authlib: passkey not found/);
    expect(authlib(['user', 'passkeys', 'nobody']).stderr).toMatch(/^authlib: no user with username or email 'nobody'/);
    // Erin keeps her passkey.
    expect(authlib(['user', 'passkeys', 'erin']).stdout).toMatch(new RegExp(`^${ids.erinKey}\\s+Key\\s`, 'm'));
  }, 120_000);
});
