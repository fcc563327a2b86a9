import { isIP } from 'node:net';
import type { BackgroundTasks } from '../background-tasks.js';
import type { Logger } from '../logger.js';
import type { Audit, EventOrigin } from '../security/audit.js';
import { deviceSummary } from './device-summary.js';
import { renderMail, type MailKind, type MailTemplates } from './templates.js';

export type { MailKind };

/** One mail, as handed to `mailer.send`. `token` (links) or `code` (OTP) is the secret the recipient needs. */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
  kind: MailKind;
  /** The account the mail is about; for a `group_invitation` to an address no account has yet, `id` and `username` are ''. */
  user: { id: string; username: string };
  token?: string;
  code?: string;
  /** The link built from `emailLinks` for this kind, when it has one. */
  url?: string;
}

/** A mail sender: `{ send(message) }`. The library also accepts an `smtp://` / `smtps://` URL instead. */
export interface Mailer {
  send(message: MailMessage): Promise<unknown>;
}

/** URL templates with `{token}` for the mail of each kind of link. */
export interface EmailLinks {
  passwordReset?: string;
  verification?: string;
  emailChange?: string;
}

const LINK_OF: Partial<Record<MailKind, keyof EmailLinks>> = { password_reset: 'passwordReset', verification: 'verification', email_change: 'emailChange' };

/** What a service asks to send. */
export interface MailRequest {
  kind: MailKind;
  to: string;
  user: { id: string; username: string };
  token?: string;
  code?: string;
  expiresAt?: Date;
  /** For `email_changed`: the address the account moved to. */
  newEmail?: string;
  /** For `group_invitation`. */
  invitation?: { group: { name: string; slug: string }; invitedBy: string; roles: string[] };
  origin?: EventOrigin | undefined;
}

/**
 * Sends account mail in the background, after the change it describes has committed, so a
 * response never waits for (or differs by) a mail. A failure is logged without the secret and
 * audited as `mail_failed`, never turned into a failed request.
 */
export class MailDispatcher {
  constructor(
    private readonly mailer: Mailer,
    private readonly settings: { emailLinks: EmailLinks; mailTemplates: MailTemplates; appName: string; now: () => Date },
    private readonly deps: { logger: Logger; audit: Audit; background: BackgroundTasks },
  ) {}

  /** Queues the mail; returns at once. */
  dispatch(request: MailRequest): void {
    this.deps.background.track(this.#send(request));
  }

  async #send(request: MailRequest): Promise<void> {
    try {
      const linkKey = LINK_OF[request.kind];
      const template = linkKey ? this.settings.emailLinks[linkKey] : undefined;
      const url = template && request.token ? template.replaceAll('{token}', encodeURIComponent(request.token)) : undefined;
      const device = deviceSummary(request.origin?.userAgent);
      const content = renderMail(this.settings.mailTemplates, {
        kind: request.kind,
        user: request.user,
        to: request.to,
        appName: this.settings.appName,
        requestedAt: this.settings.now(),
        ...(request.expiresAt ? { expiresAt: request.expiresAt } : {}),
        // Never the requester's free text: an address only if it parses as one, a device only as a summary.
        ...(request.origin?.ip && isIP(request.origin.ip) ? { ip: request.origin.ip } : {}),
        ...(device ? { device } : {}),
        ...(request.token ? { token: request.token } : {}),
        ...(request.code ? { code: request.code } : {}),
        ...(url ? { url } : {}),
        ...(request.newEmail ? { newEmail: request.newEmail } : {}),
        ...(request.invitation ? { invitation: request.invitation } : {}),
      });
      const message: MailMessage = {
        to: request.to,
        ...content,
        kind: request.kind,
        user: { id: request.user.id, username: request.user.username },
        ...(request.token ? { token: request.token } : {}),
        ...(request.code ? { code: request.code } : {}),
        ...(url ? { url } : {}),
      };
      await this.mailer.send(message);
    } catch (err) {
      // Never the message: it holds the token or code.
      this.deps.logger.warn(
        { kind: request.kind, user_id: request.user.id, err: { message: (err as Error)?.message } },
        'express-authlib: sending mail failed',
      );
      await this.deps.audit.record('mail_failed', { userId: request.user.id || null, data: { kind: request.kind }, origin: request.origin });
    }
  }
}
