import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, PASSWORD, registerUser, type TestApp } from './helpers/app.js';
import { BASE } from './helpers/endpoints.js';

// A real SMTP round trip: the library is given an smtp:// URL, a local SMTP server (smtp-server)
// receives the mail, mailparser reads it, and the link in it is followed.

let server: SMTPServer;
let port: number;
const received: ParsedMail[] = [];
const waiting: Array<() => void> = [];
const logins: Array<{ username: string; password: string }> = [];
let t: TestApp;

beforeAll(async () => {
  server = new SMTPServer({
    authOptional: false,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    onAuth(auth, _session, callback) {
      logins.push({ username: auth.username ?? '', password: auth.password ?? '' });
      if (auth.username === 'mailer' && auth.password === 'smtp-secret') return callback(null, { user: 'mailer' });
      callback(new Error('bad credentials'));
    },
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((mail) => {
          received.push(mail);
          for (const wake of waiting.splice(0)) wake();
          callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.server.address() as { port: number }).port;
  t = await createTestApp({
    mailer: `smtp://mailer:smtp-secret@127.0.0.1:${port}?from=accounts@app.example`,
    emailLinks: { passwordReset: 'https://app.example/reset#token={token}' },
  });
});
afterAll(async () => {
  await t?.close();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
});

async function nextMail(to: string): Promise<ParsedMail> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const mail = received.find((m) => JSON.stringify(m.to).includes(to));
    if (mail) return mail;
    if (Date.now() > deadline) throw new Error(`no mail to ${to}`);
    await new Promise<void>((resolve) => {
      waiting.push(resolve);
      setTimeout(resolve, 200);
    });
  }
}

describe('smtp:// mailer', () => {
  it('sends the reset mail over SMTP (authenticated, from the ?from= address); the link in it resets the password', async () => {
    const u = await registerUser(t);
    const email = `${u.username}@example.com`;
    expect((await t.http.post(`${BASE}/request-password-reset`).send({ email })).status).toBe(202);
    const mail = await nextMail(email);
    expect(logins).toContainEqual({ username: 'mailer', password: 'smtp-secret' });
    expect(mail.from?.text).toBe('accounts@app.example');
    expect(mail.subject).toMatch(/reset your password/);
    expect(mail.html).toBeTruthy();
    const link = /https:\/\/app\.example\/reset#token=([0-9A-Za-z]+)/.exec(mail.text ?? '');
    expect(link).not.toBeNull();
    const token = decodeURIComponent(link![1]!);
    const ok = await t.http.post(`${BASE}/confirm-password-reset`).send({ token, password: 'reset over real smtp' });
    expect(ok.status).toBe(200);
    expect((await t.http.post(`${BASE}/login`).send({ username: u.username, password: 'reset over real smtp' })).status).toBe(200);
    expect((await t.http.post(`${BASE}/login`).send({ username: u.username, password: PASSWORD })).status).toBe(401);
  });

  it('sends a group invitation over SMTP to an address no account has yet; whoever proves that address accepts it', async () => {
    // Inviting needs an inviter who proved their address (an administrator vouching counts).
    const admin = await registerUser(t);
    await t.auth.users.update(admin.user.id, { email_verified: true });
    const auth = { Authorization: `Bearer ${admin.token}` };
    const { group } = (await t.http.post(`${BASE}/groups`).set(auth).send({ name: 'Smtp Guild' })).body;
    const email = `guest_${Date.now()}@example.com`;
    const sent = await t.http
      .post(`${BASE}/groups/${group.id}/invitations`)
      .set(auth)
      .send({ email, roles: ['viewer'] });
    expect(sent.status).toBe(202);
    const mail = await nextMail(email);
    expect(mail.from?.text).toBe('accounts@app.example');
    // Nothing the inviter chose reaches the mail: no group name, no username, no roles.
    expect(mail.subject).toContain('you have been invited to join a group');
    for (const chosen of ['Smtp Guild', admin.username, 'viewer', group.id]) expect(`${mail.subject} ${mail.text}`).not.toContain(chosen);
    // The invitee registers with that address and verifies it: the invitation is theirs.
    const guest = await registerUser(t, { email });
    await t.auth.users.update(guest.user.id, { email_verified: true });
    const [invitation] = (await t.http.get(`${BASE}/me/invitations`).set('Authorization', `Bearer ${guest.token}`)).body;
    const accepted = await t.http.post(`${BASE}/me/invitations/${invitation.id}/accept`).set('Authorization', `Bearer ${guest.token}`);
    expect(accepted.body).toMatchObject({ group: { id: group.id }, roles: ['viewer'] });
  });
});
