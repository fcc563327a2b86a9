import { isAbsoluteHttpUrl } from './oauth/redirects.js';
import type { EmailLinks, Mailer } from './mail/mailer.js';
import { smtpMailer } from './mail/smtp.js';
import type { MailTemplates } from './mail/templates.js';
import { bool, misuse, optionalFunction, plainObject, positiveInt, str } from './option-checks.js';
import { MAX_PASSWORD_LENGTH } from './passwords/policy.js';
import type { User } from './public-user.js';

// The options of the account lifecycle and MFA (contract 5.3, 5.4): their shapes, defaults and resolvers.

/** The `otp` option: email one-time codes. */
export interface OtpOptions {
  /** Digits of a code. @default 6 */
  length?: number;
  /** Seconds a code stays valid. @default 300 */
  expiresIn?: number;
  /** Wrong tries after which the `otp_id` is dead, even for the right code. @default 5 */
  maxAttempts?: number;
}

/** The `mfa` option. */
export interface MfaOptions {
  /** The issuer shown by authenticator apps. @default the JWT `issuer` */
  issuer?: string;
  /** Users for whom a second factor is mandatory (e.g. every admin). @default nobody */
  required?: (user: User) => boolean;
}

/** The `passwordPolicy` option (NIST SP 800-63B: length and a blocklist, no composition rules). */
export interface PasswordPolicyOptions {
  /** Fewest characters (code points after NFKC). @default 8 */
  minLength?: number;
  /** Most characters; at most 1024. @default 1024 */
  maxLength?: number;
  /** Refuse the ~49,000 most common passwords (zxcvbn-ts's list). @default true */
  rejectCommon?: boolean;
}

export const DEFAULT_EMAIL_LINKS: Readonly<EmailLinks> = Object.freeze({});
export const DEFAULT_MAIL_TEMPLATES_OPTION: Readonly<MailTemplates> = Object.freeze({});
export const DEFAULT_OTP: Readonly<Required<OtpOptions>> = Object.freeze({ length: 6, expiresIn: 300, maxAttempts: 5 });
export const DEFAULT_PASSWORD_POLICY: Readonly<Required<PasswordPolicyOptions>> = Object.freeze({
  minLength: 8,
  maxLength: MAX_PASSWORD_LENGTH,
  rejectCommon: true,
});

export function mailerOf(value: unknown): Mailer | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    if (!/^smtps?:\/\/./.test(value))
      throw misuse('mailer', "as a string must be an 'smtp://' or 'smtps://' URL, e.g. 'smtp://user:pass@mail.example.com:587?from=no-reply@example.com'");
    return smtpMailer(value);
  }
  if (typeof (value as Mailer | null)?.send !== 'function') throw misuse('mailer', "must be { send(message) } or an 'smtp://' / 'smtps://' URL");
  return value as Mailer;
}

export function emailLinksOf(value: unknown): Readonly<EmailLinks> {
  if (value === undefined) return DEFAULT_EMAIL_LINKS;
  const links = plainObject(value, 'emailLinks', '{ passwordReset?, verification?, emailChange? }');
  const out: EmailLinks = {};
  for (const [key, template] of Object.entries(links)) {
    if (key !== 'passwordReset' && key !== 'verification' && key !== 'emailChange')
      throw misuse(`emailLinks.${key}`, 'is not known: use passwordReset, verification or emailChange');
    if (template === undefined) continue;
    if (typeof template !== 'string' || !template.includes('{token}') || !isAbsoluteHttpUrl(template.replaceAll('{token}', 'x'))) {
      throw misuse(`emailLinks.${key}`, "must be an absolute http(s) URL containing {token}, e.g. 'https://app.example/reset#token={token}'");
    }
    out[key] = template;
  }
  return Object.freeze(out);
}

export function mailTemplatesOf(value: unknown): Readonly<MailTemplates> {
  if (value === undefined) return DEFAULT_MAIL_TEMPLATES_OPTION;
  const templates = plainObject(value, 'mailTemplates', 'keyed by mail kind');
  for (const [kind, fn] of Object.entries(templates)) {
    // group_invitation too: its default names nothing anyone chose, so an app that wants the group's
    // name in the mail writes its own template (and owns what user-chosen text it shows).
    if (
      !['password_reset', 'verification', 'email_change', 'email_changed', 'otp', 'failed_codes', 'group_invitation', 'new_device', 'passkey_added'].includes(
        kind,
      )
    ) {
      throw misuse(
        `mailTemplates.${kind}`,
        'is not a mail kind: password_reset, verification, email_change, email_changed, otp, failed_codes, group_invitation, new_device or passkey_added',
      );
    }
    if (fn !== undefined && typeof fn !== 'function') throw misuse(`mailTemplates.${kind}`, 'must be a function (data) => ({ subject, text, html })');
  }
  return Object.freeze({ ...templates });
}

export function otpOf(value: unknown): Readonly<Required<OtpOptions>> {
  if (value === undefined) return DEFAULT_OTP;
  const o = plainObject(value, 'otp', '{ length?, expiresIn?, maxAttempts? }');
  const length = positiveInt(o.length, 'otp.length', DEFAULT_OTP.length, 4);
  if (length > 10) throw misuse('otp.length', 'must be between 4 and 10');
  return Object.freeze({
    length,
    expiresIn: positiveInt(o.expiresIn, 'otp.expiresIn', DEFAULT_OTP.expiresIn),
    maxAttempts: positiveInt(o.maxAttempts, 'otp.maxAttempts', DEFAULT_OTP.maxAttempts),
  });
}

export function mfaOf(value: unknown, defaultIssuer: string): Readonly<{ issuer: string; required: ((user: User) => boolean) | undefined }> {
  const o = value === undefined ? {} : plainObject(value, 'mfa', '{ issuer?, required? }');
  return Object.freeze({
    issuer: str(o.issuer, 'mfa.issuer', defaultIssuer),
    required: optionalFunction<(user: User) => boolean>(o.required, 'mfa.required', '(user) => boolean'),
  });
}

export function passwordPolicyOf(value: unknown): Readonly<Required<PasswordPolicyOptions>> {
  if (value === undefined) return DEFAULT_PASSWORD_POLICY;
  const o = plainObject(value, 'passwordPolicy', '{ minLength?, maxLength?, rejectCommon? }');
  const minLength = positiveInt(o.minLength, 'passwordPolicy.minLength', DEFAULT_PASSWORD_POLICY.minLength);
  const maxLength = positiveInt(o.maxLength, 'passwordPolicy.maxLength', DEFAULT_PASSWORD_POLICY.maxLength);
  if (maxLength > MAX_PASSWORD_LENGTH || maxLength < minLength)
    throw misuse('passwordPolicy.maxLength', `must be between minLength and ${MAX_PASSWORD_LENGTH}`);
  return Object.freeze({ minLength, maxLength, rejectCommon: bool(o.rejectCommon, 'passwordPolicy.rejectCommon', DEFAULT_PASSWORD_POLICY.rejectCommon) });
}
