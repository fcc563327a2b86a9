/**
 * What a mail is for. `email_changed` is the notice to the old address after an email change;
 * `failed_codes` tells the user that wrong second factors or email codes were entered for their
 * account until it had to wait (someone may know their password); `group_invitation` tells someone
 * a group admin invited them (they accept or decline once signed in); `new_device` tells them their
 * account was signed in to from a device it had not been used from (option `newDeviceNotice`);
 * `passkey_added` tells them a passkey was added to their account.
 */
export type MailKind =
  'password_reset' | 'verification' | 'email_change' | 'email_changed' | 'otp' | 'failed_codes' | 'group_invitation' | 'new_device' | 'passkey_added';

/** What a template gets to write a mail from. */
export interface MailTemplateData {
  kind: MailKind;
  user: { id: string; username: string };
  /** The recipient. */
  to: string;
  /** The `appName` option (by default the `issuer`). */
  appName: string;
  requestedAt: Date;
  /** When the link or code stops working. */
  expiresAt?: Date;
  /**
   * Who asked: the client address, and the device as a short summary from a fixed vocabulary
   * ("Firefox on Windows"). The request's User-Agent itself never reaches a mail: it is the
   * requester's free text.
   */
  ip?: string;
  device?: string;
  token?: string;
  code?: string;
  url?: string;
  /** `email_changed`: the address the account moved to. */
  newEmail?: string;
  /** `group_invitation`: the group, the inviter's username and the roles offered. */
  invitation?: { group: { name: string; slug: string }; invitedBy: string; roles: string[] };
}

/** A rendered mail. */
export interface MailContent {
  subject: string;
  text: string;
  html: string;
}

/** The `mailTemplates` option: per kind, a function from the data to `{subject, text, html}`. */
export type MailTemplates = Partial<Record<MailKind, (data: MailTemplateData) => MailContent>>;

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;

/**
 * A lifetime as a person says it: "5 minutes", "1 hour", "1 hour 30 minutes", "24 hours", "7 days";
 * whole minutes, at least one.
 */
function humanDuration(ms: number): string {
  const minutes = Math.max(1, Math.round(ms / 60_000));
  if (minutes < 60) return plural(minutes, 'minute');
  const days = Math.floor(minutes / 1440);
  // Days only when they are whole ("2 days", not "2 days 3 hours"); a day and a half reads "36 hours".
  if (days >= 2 && minutes % 1440 === 0) return plural(days, 'day');
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest === 0 ? plural(hours, 'hour') : `${plural(hours, 'hour')} ${plural(rest, 'minute')}`;
}

function minutesLeft(d: MailTemplateData): string {
  if (!d.expiresAt) return '';
  return `It works once, for ${humanDuration(d.expiresAt.getTime() - d.requestedAt.getTime())} (until ${d.expiresAt.toISOString()}).`;
}

/**
 * Who asked and when. Never the username or real name: whoever registered an address (a squatter
 * on someone else's, say) chose them, and a security mail to the address's owner must carry no text
 * a requester chose ("Support.CALL-NOW.evil.example").
 */
function whoAsked(d: MailTemplateData): string {
  const from = d.ip ? ` from the address ${d.ip}${d.device ? ` (${d.device})` : ''}` : '';
  return `This was requested at ${d.requestedAt.toISOString()}${from}.`;
}

/** Plain mail: what happened, who asked from where, the link or code, when it expires, what to do if it was not you. */
function plain(subject: string, intro: string, d: MailTemplateData, secretLine: string | undefined, outro: string): MailContent {
  const lines = [intro, '', ...(secretLine ? [secretLine, minutesLeft(d), ''] : []), whoAsked(d), outro];
  const text = lines.join('\n');
  const html = lines.map((line) => (line === '' ? '' : `<p>${escape(line)}</p>`)).join('\n');
  return { subject, text, html };
}

const ignore = 'If you did not ask for this, ignore this mail; nothing changes.';
/** The link if `emailLinks` builds one, else the token to paste. */
const linkOrToken = (d: MailTemplateData) => (d.url ? `Open this link: ${d.url}` : `Your token: ${d.token ?? ''}`);

/** The default templates: plain, and each says who asked and when the link or code expires. */
export const DEFAULT_MAIL_TEMPLATES: Readonly<Record<MailKind, (data: MailTemplateData) => MailContent>> = Object.freeze({
  password_reset: (d) => plain(`${d.appName}: reset your password`, 'Someone asked to reset the password of your account.', d, linkOrToken(d), ignore),
  verification: (d) => plain(`${d.appName}: verify your email address`, `Confirm that ${d.to} is your address.`, d, linkOrToken(d), ignore),
  email_change: (d) =>
    plain(
      `${d.appName}: confirm your new email address`,
      `Someone asked to move an account of ${d.appName} to this address, ${d.to}. Confirm it only if you asked for it, signed in to that account.`,
      d,
      linkOrToken(d),
      ignore,
    ),
  email_changed: (d) =>
    plain(
      `${d.appName}: your email address was changed`,
      `The email of your account was changed to ${d.newEmail ?? 'another address'}; mail no longer comes here.`,
      d,
      undefined,
      'If this was not you, reset your password and contact the app at once.',
    ),
  group_invitation: (d) => {
    // No text anyone chose: group names, usernames and roles are typed by whoever invites (anyone
    // who made a group), so "Security Team - verify at https://evil.example" must not reach an
    // inbox in this app's name. The details stay in `d.invitation` for an app's own template.
    const lines = [
      `You have been invited to join a group on ${d.appName}.`,
      '',
      `Sign in to ${d.appName} to see the invitation and accept or decline it.`,
      ...(d.expiresAt ? [`The invitation expires at ${d.expiresAt.toISOString()}.`] : []),
      '',
      'If you do not expect this, ignore this mail; nothing happens unless you accept.',
    ];
    return {
      subject: `${d.appName}: you have been invited to join a group`,
      text: lines.join('\n'),
      html: lines.map((line) => (line === '' ? '' : `<p>${escape(line)}</p>`)).join('\n'),
    };
  },
  failed_codes: (d) =>
    plain(
      `${d.appName}: wrong sign-in codes for your account`,
      'Several wrong second-factor or emailed sign-in codes were entered for your account, so it now waits between tries.',
      d,
      undefined,
      'If this was not you, someone may know your password: change it, or reset it by mail.',
    ),
  new_device: (d) => {
    // The device is a summary from the parser's own names and the address one that parsed: nothing the signer-in typed.
    const lines = [
      `Your account on ${d.appName} was signed in to from a device it had not been used from before${d.device ? ` (${d.device})` : ''}.`,
      '',
      `This happened at ${d.requestedAt.toISOString()}${d.ip ? ` from the address ${d.ip}` : ''}.`,
      'If this was you, there is nothing to do.',
      'If it was not, change your password, and end that session in the list of your sessions.',
    ];
    return {
      subject: `${d.appName}: new sign-in to your account`,
      text: lines.join('\n'),
      html: lines.map((line) => (line === '' ? '' : `<p>${escape(line)}</p>`)).join('\n'),
    };
  },
  passkey_added: (d) => {
    // Never the passkey's name: whoever held the access token chose it. The device is the summary.
    const lines = [
      `A passkey was added to your account on ${d.appName}. It signs in to your account by itself, without your password.`,
      '',
      `This happened at ${d.requestedAt.toISOString()}${d.ip ? ` from the address ${d.ip}` : ''}${d.device ? ` (${d.device})` : ''}.`,
      'If this was you, there is nothing to do.',
      'If it was not, remove that passkey in the list of your passkeys (removing it ends the logins it opened), and reset your password.',
    ];
    return {
      subject: `${d.appName}: a passkey was added to your account`,
      text: lines.join('\n'),
      html: lines.map((line) => (line === '' ? '' : `<p>${escape(line)}</p>`)).join('\n'),
    };
  },
  otp: (d) =>
    plain(
      `${d.appName}: your sign-in code`,
      'Someone asked for a code to sign in to your account.',
      d,
      `Your code: ${d.code ?? ''}`,
      'If you did not ask for this, ignore this mail; nobody can sign in without the code.',
    ),
});

/** Renders one mail with the app's template for its kind, else the default. */
export function renderMail(templates: MailTemplates, data: MailTemplateData): MailContent {
  return (templates[data.kind] ?? DEFAULT_MAIL_TEMPLATES[data.kind])(data);
}
