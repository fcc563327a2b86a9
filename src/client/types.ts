// The wire format of the endpoints the client calls (contract sections 3-5), snake_case as sent.

/** The user object. */
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

/** A token response: `refresh_token` in bearer mode, `csrf_token` in cookie mode. */
export interface TokenResponse {
  token: string;
  refresh_token?: string;
  csrf_token?: string;
  user?: User;
}

export interface LoginInput {
  /** Username or email. */
  username: string;
  password: string;
  /** Finishes a sign-in begun with another method (the password as the second factor). */
  mfa_id?: string;
}

export interface RegisterInput {
  username: string;
  password: string;
  email: string;
  real_name?: string;
  profile?: Record<string, unknown>;
}

export interface OtpLoginInput {
  otp_id: string;
  code: string;
  mfa_id?: string;
}

export interface MfaLoginInput {
  mfa_id: string;
  method: 'totp' | 'backup_code';
  code: string;
}

/** An API token as listed (never its secret). */
export interface ApiToken {
  id: string;
  name: string;
  scopes: string[];
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
}

/** A new API token: `token` is shown this once. */
export interface CreatedApiToken extends Omit<ApiToken, 'last_used_at'> {
  token: string;
}

export interface CreateApiTokenInput {
  name: string;
  scopes?: string[];
  expires_in_days?: number;
}

export interface MfaStatus {
  totp: { enabled: boolean };
  backup_codes: { remaining: number };
}

/** One login of the user (`GET /{user}/sessions`). */
export interface Session {
  id: string;
  created_at: string;
  /** The sign-in, or the latest refresh. */
  last_used_at: string;
  ip: string | null;
  /** A short summary such as "Chrome on macOS", never the User-Agent itself. */
  device: string | null;
  /** The login of the access token the request came with (this tab's). */
  current: boolean;
}
