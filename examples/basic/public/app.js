// The demo page's script: plain JavaScript run as it is (no build step), on top of
// express-authlib/client, which the demo server serves from the package's build at /client.js.
// Every secret stays in memory: the access token in the client, the refresh token in the client
// (bearer mode) or in an HttpOnly cookie (cookie mode), a new API token or backup codes in the
// DOM until the next sign-out. Nothing goes into a URL.

const $ = (id) => document.getElementById(id);
const show = (id, visible) => {
  $(id).hidden = !visible;
};

/** Announces a result or an error in the page's live region. */
function say(text, kind = 'info') {
  const message = $('message');
  message.textContent = text;
  message.className = kind;
}

/** The client's class of error, once the client is loaded. */
let ClientError = class {};

/** An error of the client (or of a request the page made itself) as "code: message", with the fields of a validation_error. */
function sayError(err) {
  if (err instanceof ClientError) {
    const fields = err.body?.fields
      ? ` (${Object.entries(err.body.fields)
          .map(([name, reason]) => `${name}: ${reason}`)
          .join('; ')})`
      : '';
    say(`${err.code}: ${err.message}${fields}`, 'error');
  } else {
    say(`unexpected_error: ${err instanceof Error ? err.message : String(err)}`, 'error');
  }
}

/** Runs `handler` with the form's fields on submit, with the button disabled meanwhile; errors go to the live region. */
function onSubmit(id, handler) {
  const form = $(id);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    handler(Object.fromEntries(new FormData(form)), form)
      .catch(sayError)
      .finally(() => {
        button.disabled = false;
      });
  });
}

function onClick(id, handler) {
  $(id).addEventListener('click', () => {
    handler().catch(sayError);
  });
}

const dateOf = (iso) => (iso ? new Date(iso).toLocaleString() : 'never');

async function main() {
  let module;
  let config;
  try {
    module = await import('/client.js');
    config = await (await fetch('/demo-config.json')).json();
  } catch (err) {
    $('mode').textContent = 'The client could not be loaded.';
    say(`client_unavailable: ${err instanceof Error ? err.message : String(err)} (run npm run build)`, 'error');
    return;
  }
  ClientError = module.AuthClientError;
  const cookieMode = config.mode === 'cookie';
  const client = module.createAuthClient({
    baseUrl: location.origin,
    basePath: config.base_path,
    mode: config.mode,
    // Cookie mode keeps only the CSRF token (not a credential) so that a reload can refresh from
    // the cookie; bearer mode keeps its refresh token in memory, so a reload signs out.
    ...(cookieMode ? { storage: localStorage } : {}),
  });

  document.body.dataset.mode = config.mode;
  // Passkeys need the server's `webauthn` option (and a page on its origin: http://localhost, not 127.0.0.1).
  show('passkey-signin-section', config.passkeys);
  show('passkeys', config.passkeys);
  $('mode').textContent = cookieMode
    ? 'Cookie mode: the refresh token is in an HttpOnly cookie that this page cannot read; the access token is kept in memory. A reload keeps you signed in.'
    : "Bearer mode: the access and refresh tokens are kept in this page's memory only. A reload signs you out.";

  // ---- signed out ----

  let mfaId = null;
  let otpId = null;

  function renderSignedOut() {
    mfaId = null;
    for (const id of ['profile-username', 'profile-email', 'profile-verified', 'profile-roles', 'new-token-value', 'totp-secret', 'totp-url'])
      $(id).textContent = '';
    $('token-list').replaceChildren();
    $('passkey-list').replaceChildren();
    $('session-list').replaceChildren();
    $('backup-code-list').replaceChildren();
    for (const id of ['signed-in', 'second-factor', 'new-token', 'mfa-pending', 'backup-codes']) show(id, false);
    show('signed-out', true);
  }

  /** True (and the second-factor form shown) when a first factor was accepted and a second is due. */
  function secondFactorDue(err) {
    if (!(err instanceof ClientError) || err.code !== 'mfa_required' || !err.body?.mfa_id) return false;
    mfaId = err.body.mfa_id;
    show('second-factor', true);
    $('second-factor-form').elements.code.focus();
    say('mfa_required: the first factor is right; now enter your second factor.', 'info');
    return true;
  }

  /** Signs in with `attempt`, or asks for the second factor. */
  async function signIn(attempt, form) {
    try {
      await attempt();
    } catch (err) {
      if (secondFactorDue(err)) return;
      throw err;
    }
    form.reset();
    await enterSignedIn('Signed in.');
  }

  onSubmit('register-form', async (fields, form) => {
    await client.register({ username: fields.username, email: fields.email, password: fields.password });
    form.reset();
    await enterSignedIn('Registered and signed in.');
  });

  onSubmit('login-form', (fields, form) => signIn(() => client.login({ username: fields.username, password: fields.password }), form));

  onSubmit('second-factor-form', async (fields, form) => {
    if (!mfaId) throw new ClientError('mfa_required', 0, 'sign in with your first factor first');
    await client.loginWithMfa({ mfa_id: mfaId, method: fields.method, code: fields.code.trim() });
    form.reset();
    await enterSignedIn('Signed in with two factors.');
  });

  // A passkey: the whole sign-in, or the second factor of one that answered mfa_required.
  onClick('passkey-signin', async () => {
    const second = mfaId !== null;
    try {
      await client.signInWithPasskey(second ? { mfaId } : {});
    } catch (err) {
      if (secondFactorDue(err)) return;
      throw err;
    }
    await enterSignedIn(second ? 'Signed in with two factors.' : 'Signed in with a passkey.');
  });

  onSubmit('otp-request-form', async (fields) => {
    ({ otp_id: otpId } = await client.requestOtp(fields.email));
    show('otp-login-form', true);
    $('otp-login-form').elements.code.focus();
    say('If the address has an account, a code is on its way (the demo prints it on the server console).');
  });

  onSubmit('otp-login-form', async (fields, form) => {
    if (!otpId) throw new ClientError('invalid_code', 0, 'ask for a code first');
    await signIn(() => client.loginWithOtp({ otp_id: otpId, code: fields.code.trim(), ...(mfaId ? { mfa_id: mfaId } : {}) }), form);
    otpId = null;
    show('otp-login-form', false);
  });

  onSubmit('reset-request-form', async (fields) => {
    await client.requestPasswordReset(fields.email);
    say('If the address has an account, a reset token is on its way (the demo prints it on the server console).');
  });

  onSubmit('reset-confirm-form', async (fields, form) => {
    await client.confirmPasswordReset(fields.token.trim(), fields.password);
    form.reset();
    say('Password changed: every earlier sign-in has ended. Log in with the new password.');
  });

  // ---- signed in ----

  async function enterSignedIn(text, known) {
    const user = known ?? (await client.profile());
    $('profile-username').textContent = user.username;
    $('profile-email').textContent = user.email ?? '';
    $('profile-verified').textContent = user.email_verified ? 'yes' : 'no';
    $('profile-roles').textContent = user.roles.join(', ');
    mfaId = null;
    show('signed-out', false);
    show('second-factor', false);
    show('signed-in', true);
    say(text);
    await Promise.all([listSessions(), listTokens(), mfaStatus(), listPasskeys()]);
  }

  /** The account's sessions: this one marked, any other with a button that ends it on the server. */
  async function listSessions() {
    const sessions = await client.sessions();
    $('session-list').replaceChildren(
      ...sessions.map((session) => {
        const row = document.createElement('tr');
        const device = session.device ?? 'Unknown device';
        for (const text of [device, session.ip ?? '', dateOf(session.created_at), dateOf(session.last_used_at)]) {
          const cell = document.createElement('td');
          cell.textContent = text;
          row.append(cell);
        }
        const cell = document.createElement('td');
        const end = document.createElement('button');
        end.type = 'button';
        end.textContent = session.current ? 'End (this device)' : 'End';
        end.setAttribute('aria-label', `End the session on ${device}${session.current ? ' (this device)' : ''}`);
        end.addEventListener('click', () => {
          end.disabled = true;
          client
            .endSession(session.id)
            .then(async () => {
              if (session.current) {
                renderSignedOut();
                say('This session ended: signed out.');
                return;
              }
              await listSessions();
              say(`The session on ${device} ended: it is signed out there.`);
            })
            .catch((err) => {
              end.disabled = false;
              sayError(err);
            });
        });
        cell.append(end);
        row.append(cell);
        if (session.current) row.dataset.current = 'true';
        return row;
      }),
    );
  }

  async function listTokens() {
    const tokens = await client.apiTokens.list();
    $('token-list').replaceChildren(
      ...tokens.map((token) => {
        const row = document.createElement('tr');
        for (const text of [token.name, token.scopes.join(' '), dateOf(token.created_at), dateOf(token.last_used_at)]) {
          const cell = document.createElement('td');
          cell.textContent = text;
          row.append(cell);
        }
        const revoke = document.createElement('button');
        revoke.type = 'button';
        revoke.textContent = 'Revoke';
        revoke.setAttribute('aria-label', `Revoke ${token.name}`);
        revoke.addEventListener('click', () => {
          revoke.disabled = true;
          client.apiTokens
            .revoke(token.id)
            .then(async () => {
              show('new-token', false);
              $('new-token-value').textContent = '';
              await listTokens();
              say(`Token "${token.name}" revoked.`);
            })
            .catch((err) => {
              revoke.disabled = false;
              sayError(err);
            });
        });
        const cell = document.createElement('td');
        cell.append(revoke);
        row.append(cell);
        return row;
      }),
    );
    show('no-tokens', tokens.length === 0);
  }

  onSubmit('token-form', async (fields, form) => {
    const scopes = fields.scopes.split(/\s+/).filter(Boolean);
    const created = await client.apiTokens.create({ name: fields.name.trim(), scopes });
    form.reset();
    $('new-token-value').textContent = created.token;
    show('new-token', true);
    await listTokens();
    say(`Token "${created.name}" created: copy it now, it is not shown again.`);
  });

  async function listPasskeys() {
    if (!config.passkeys) return;
    const passkeys = await client.passkeys.list();
    $('passkey-list').replaceChildren(
      ...passkeys.map((passkey) => {
        const row = document.createElement('tr');
        const kind = passkey.device_type === 'multiDevice' ? 'synced' : 'this device only';
        for (const text of [passkey.name, kind, dateOf(passkey.created_at), dateOf(passkey.last_used_at)]) {
          const cell = document.createElement('td');
          cell.textContent = text;
          row.append(cell);
        }
        const remove = document.createElement('button');
        remove.type = 'button';
        remove.textContent = 'Remove';
        remove.setAttribute('aria-label', `Remove passkey ${passkey.name}`);
        remove.addEventListener('click', () => {
          remove.disabled = true;
          client.passkeys
            .remove(passkey.id)
            .then(async () => {
              // Removing a passkey ends the logins it opened: this page's own, if it signed in with it.
              const ended = await listPasskeys().then(
                () => false,
                (err) => err instanceof ClientError && err.status === 401,
              );
              if (ended) renderSignedOut();
              say(ended ? `Passkey "${passkey.name}" removed. It opened this sign-in, which has ended with it.` : `Passkey "${passkey.name}" removed.`);
            })
            .catch((err) => {
              remove.disabled = false;
              sayError(err);
            });
        });
        const cell = document.createElement('td');
        cell.append(remove);
        row.append(cell);
        return row;
      }),
    );
    show('no-passkeys', passkeys.length === 0);
  }

  // Adding a passkey needs a sign-in of the last 10 minutes, or the password: asked for when the server says so.
  onSubmit('passkey-form', async (fields, form) => {
    const name = fields.name.trim();
    let passkey;
    try {
      passkey = await client.registerPasskey({ ...(name ? { name } : {}), ...(fields.password ? { password: fields.password } : {}) });
    } catch (err) {
      if (!(err instanceof ClientError) || err.code !== 'reauthentication_required') throw err;
      show('passkey-password', true);
      $('passkey-password').querySelector('input').focus();
      say(fields.password ? 'That password is not right.' : 'You signed in more than 10 minutes ago: enter your password to add a passkey.', 'error');
      return;
    }
    form.reset();
    show('passkey-password', false);
    await listPasskeys();
    say(`Passkey "${passkey.name}" added: you can sign in with it now.`);
  });

  async function mfaStatus() {
    const status = await client.mfa.status();
    $('mfa-status').textContent = status.totp.enabled
      ? `On: signing in asks for a code from your authenticator app (${status.backup_codes.remaining} backup codes left).`
      : 'Off: set up an authenticator app to ask for a second factor at every sign-in.';
    show('mfa-setup-form', !status.totp.enabled && $('mfa-pending').hidden);
  }

  onSubmit('mfa-setup-form', async (fields, form) => {
    const { secret, otpauth_url: url } = await client.mfa.setup(fields.password);
    form.reset();
    $('totp-secret').textContent = secret;
    $('totp-url').textContent = url;
    show('mfa-setup-form', false);
    show('mfa-pending', true);
    $('mfa-confirm-form').elements.code.focus();
    say('Add the secret to your authenticator app, then confirm with a code.');
  });

  onSubmit('mfa-confirm-form', async (fields, form) => {
    const { backup_codes: codes } = await client.mfa.confirm(fields.code.trim());
    form.reset();
    $('totp-secret').textContent = '';
    $('totp-url').textContent = '';
    show('mfa-pending', false);
    $('backup-code-list').replaceChildren(
      ...codes.map((code) => {
        const item = document.createElement('li');
        item.textContent = code;
        return item;
      }),
    );
    show('backup-codes', true);
    await mfaStatus();
    say('Two-factor authentication is on.');
  });

  onClick('logout', async () => {
    await client.logout();
    renderSignedOut();
    say('Signed out.');
  });

  onClick('logout-all', async () => {
    await client.logoutAll();
    renderSignedOut();
    say('Signed out everywhere: every sign-in of this account has ended.');
  });

  // Signed out elsewhere (another tab, a failed refresh): show it.
  client.store.subscribe((state) => {
    if (state.accessToken === null && state.user === null && $('signed-out').hidden) renderSignedOut();
  });

  // A reload: restore() brings the session and its user back (cookie mode, from the cookie);
  // bearer mode keeps nothing across reloads, so it answers null.
  try {
    const user = await client.restore();
    if (user) await enterSignedIn('Welcome back: the session was resumed from the cookie.', user);
    else renderSignedOut();
  } catch (err) {
    renderSignedOut();
    if (!(err instanceof ClientError && err.status === 401)) sayError(err);
  }
  document.body.dataset.ready = 'true';
}

void main();
