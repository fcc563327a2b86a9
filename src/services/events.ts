import * as z from 'zod';
import { listAuthEvents } from '../db/auth-events-repository.js';
import type { AuthEvent } from '../security/audit.js';
import { lazySchema, parseInput } from '../validation.js';
import type { ServiceContext } from './context.js';

/** Largest page of `auth.events.list` and `GET /admin/events`. */
export const MAX_EVENT_PAGE = 500;
/** Page size when none is asked for. */
export const DEFAULT_EVENT_PAGE = 100;

/**
 * An audit event as listed: `{id, type, user_id, actor_id, ip, user_agent, data, created_at}`;
 * `type` is a plain string since rows written by other versions may carry other types.
 */
export type AuditEvent = Omit<AuthEvent, 'type'> & { id: string; type: string };

/** Input of `auth.events.list`; every field optional. */
export interface ListEventsInput {
  user_id?: string | undefined;
  type?: string | undefined;
  /** Only events strictly older than this (an ISO-8601 time or a Date), to page back in time. */
  before?: string | Date | undefined;
  /** 1-500, default 100. */
  limit?: number | undefined;
}

export const listSchema = lazySchema(() =>
  z.object({
    user_id: z.string().max(64).optional(),
    type: z.string().min(1).max(64).optional(),
    before: z.union([z.date(), z.iso.datetime({ offset: true }).transform((s) => new Date(s))]).optional(),
    limit: z.number().int().min(1).max(MAX_EVENT_PAGE).default(DEFAULT_EVENT_PAGE),
  }),
);

/** The audit trail: `auth.events` and `/admin/events`. */
export class EventService {
  constructor(private readonly ctx: Pick<ServiceContext, 'database'>) {}

  /** Events newest first, filtered by user, type and time. */
  async list(input: ListEventsInput = {}): Promise<AuditEvent[]> {
    const f = parseInput(listSchema(), input);
    const rows = await this.ctx.database.run((db) => listAuthEvents(db, { userId: f.user_id, type: f.type, before: f.before, limit: f.limit }));
    return rows.map((r) => ({
      id: r.id,
      type: r.type,
      user_id: r.user_id,
      actor_id: r.actor_id,
      ip: r.ip,
      user_agent: r.user_agent,
      data: r.data ?? {},
      created_at: r.created_at.toISOString(),
    }));
  }
}
