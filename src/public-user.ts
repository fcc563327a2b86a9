import type { UserRecord } from './db/users-repository.js';

/** The user object of the wire format. Never carries a hash, token or secret. */
export interface User {
  id: string;
  username: string;
  email: string | null;
  roles: string[];
  email_verified: boolean;
  is_active: boolean;
  created_at: string;
  last_login: string | null;
  real_name: string | null;
  profile: Record<string, unknown>;
}

/** Maps a database row to the wire format (an explicit allow-list of fields). */
export function toPublicUser(row: UserRecord): User {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    roles: row.roles,
    email_verified: row.email_verified,
    is_active: row.is_active,
    created_at: row.created_at.toISOString(),
    last_login: row.last_login ? row.last_login.toISOString() : null,
    real_name: row.real_name,
    profile: row.profile ?? {},
  };
}
