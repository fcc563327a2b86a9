import { rawQuery } from './database.js';

/** A row of `<schema>.auth_events` as the drivers return it. */
export interface AuditRow {
  id: string;
  type: string;
  user_id: string | null;
  actor_id: string | null;
  ip: string | null;
  user_agent: string | null;
  data: Record<string, unknown>;
  created_at: Date | string;
}

/** Addresses a supertest request from this process shows up as. */
export const LOOPBACK = ['127.0.0.1', '::ffff:127.0.0.1'];

/** Rows of `auth_events`, oldest first, optionally narrowed to a type / user / User-Agent. */
export async function auditRows(schema: string, where: { type?: string; userId?: string | null; userAgent?: string } = {}): Promise<AuditRow[]> {
  const clauses: string[] = [];
  const params: unknown[] = [];
  if (where.type !== undefined) {
    params.push(where.type);
    clauses.push(`type = $${params.length}`);
  }
  if (where.userId !== undefined) {
    if (where.userId === null) clauses.push('user_id IS NULL');
    else {
      params.push(where.userId);
      clauses.push(`user_id = $${params.length}`);
    }
  }
  if (where.userAgent !== undefined) {
    params.push(where.userAgent);
    clauses.push(`user_agent = $${params.length}`);
  }
  const filter = clauses.length ? `WHERE ${clauses.join(' AND ')}` : '';
  return rawQuery<AuditRow>(`SELECT * FROM "${schema}".auth_events ${filter} ORDER BY created_at, id`, params);
}

/**
 * Forms in which a secret could end up stored or logged: as is, and hex / base64 / base64url of
 * its bytes. A JWT also contributes its signature segment, which alone would be as good as a copy.
 */
export function secretForms(secret: string): string[] {
  const forms = new Set([secret]);
  const bytes = Buffer.from(secret, 'utf8');
  forms.add(bytes.toString('hex'));
  forms.add(bytes.toString('base64'));
  forms.add(bytes.toString('base64url'));
  const parts = secret.split('.');
  if (parts.length === 3 && parts[2]!.length >= 20) forms.add(parts[2]!);
  return [...forms];
}

/**
 * Labels of the secrets found (in any of their `secretForms`) in `text`; `[]` when none is there.
 * Secrets shorter than 8 characters are ignored (they would match by chance).
 */
export function leakedSecrets(text: string, secrets: Record<string, string | undefined>): string[] {
  const found: string[] = [];
  for (const [label, secret] of Object.entries(secrets)) {
    if (!secret || secret.length < 8) continue;
    if (secretForms(secret).some((form) => text.includes(form))) found.push(label);
  }
  return found;
}
