import { insertAuthEvent } from '../db/auth-events-repository.js';
import type { DatabaseGate } from '../db/database-gate.js';
import type { Logger } from '../logger.js';

/** Every kind of event written to `auth_events`. */
export type AuthEventType =
  | 'register'
  | 'login_success'
  | 'login_failure'
  | 'oauth_login'
  | 'refresh'
  | 'refresh_reuse'
  | 'logout'
  | 'logout_all'
  | 'session_revoked'
  | 'password_change'
  | 'api_token_created'
  | 'api_token_deleted'
  | 'role_change'
  | 'user_disabled'
  | 'user_enabled'
  | 'identity_linked'
  | 'identity_unlinked'
  | 'integration_set'
  | 'integration_deleted'
  | 'user_created'
  | 'user_updated'
  | 'user_deleted'
  | 'role_created'
  | 'role_deleted'
  | 'impersonation_start'
  | 'impersonation_refused'
  | 'password_reset_requested'
  | 'password_reset'
  | 'password_reset_failed'
  | 'verification_requested'
  | 'email_verified'
  | 'email_change_requested'
  | 'email_changed'
  | 'otp_requested'
  | 'otp_failed'
  | 'mfa_required'
  | 'mfa_failed'
  | 'mfa_enabled'
  | 'mfa_disabled'
  | 'backup_code_used'
  | 'backup_codes_regenerated'
  | 'mail_failed'
  | 'second_factor_locked'
  | 'account_recovered'
  | 'passkey_added'
  | 'passkey_renamed'
  | 'passkey_removed'
  | 'passkey_login'
  | 'passkey_clone_suspected'
  | 'group_created'
  | 'group_updated'
  | 'group_deleted'
  | 'group_child_added'
  | 'group_child_removed'
  | 'group_member_added'
  | 'group_member_updated'
  | 'group_member_removed'
  | 'group_invitation_sent'
  | 'group_invitation_accepted'
  | 'group_invitation_declined'
  | 'service_key_revoked'
  | 'user_unlocked'
  | 'rate_limits_reset';

/** An audit event as stored and as handed to `onEvent`. Never carries a password, token or secret. */
export interface AuthEvent {
  type: AuthEventType;
  user_id: string | null;
  /** Who did it, when not the user themself (an admin). */
  actor_id: string | null;
  ip: string | null;
  user_agent: string | null;
  data: Record<string, unknown>;
  created_at: string;
}

/**
 * Where a change came from, as the HTTP layer knows it: the client address, its user agent and the
 * signed-in caller. Passed explicitly to each service call (nothing is read from hidden
 * per-request state); absent for programmatic calls.
 */
export interface EventOrigin {
  ip?: string;
  userAgent?: string;
  /** The authenticated caller; recorded as `actor_id` when it is not the event's user. */
  actorId?: string;
}

/**
 * How long a request waits for the app's `onEvent` (a SIEM that never answers must not hold the
 * request, nor close(), for good): an event is usually delivered before the answer, as before.
 */
export const ON_EVENT_WAIT_MS = 5_000;

/**
 * Writes audit events after the change they describe has committed, and forwards each to `onEvent`.
 * A failure to record is logged, never turned into a failed request: the change already happened.
 */
export class Audit {
  constructor(
    private readonly database: DatabaseGate,
    private readonly logger: Logger,
    private readonly now: () => Date,
    private readonly onEvent: ((event: AuthEvent) => void | Promise<void>) | undefined,
  ) {}

  async record(type: AuthEventType, fields: { userId?: string | null; data?: Record<string, unknown>; origin?: EventOrigin | undefined } = {}): Promise<void> {
    const ctx = fields.origin ?? {};
    const actor = ctx.actorId && ctx.actorId !== fields.userId ? ctx.actorId : null;
    const event: AuthEvent = {
      type,
      user_id: fields.userId ?? null,
      actor_id: actor,
      ip: ctx.ip ?? null,
      user_agent: ctx.userAgent?.slice(0, 512) ?? null,
      data: fields.data ?? {},
      created_at: this.now().toISOString(),
    };
    try {
      await this.database.run((db) => insertAuthEvent(db, { ...event, created_at: new Date(event.created_at) }));
    } catch (err) {
      this.logger.warn({ event: type, err: { message: (err as Error).message } }, 'express-authlib: could not record audit event');
    }
    if (this.onEvent) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), ON_EVENT_WAIT_MS);
        timer.unref();
      });
      try {
        const onEvent = this.onEvent;
        if ((await Promise.race([(async () => onEvent(event))(), late])) === 'late') {
          this.logger.warn({ event: type }, `express-authlib: onEvent did not finish within ${ON_EVENT_WAIT_MS / 1000} s; the request went on without it`);
        }
      } catch (err) {
        this.logger.warn({ event: type, err: { message: (err as Error).message } }, 'express-authlib: onEvent failed');
      } finally {
        clearTimeout(timer);
      }
    }
  }
}
