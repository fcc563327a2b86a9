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

/** A passkey as listed (never its key material). */
export interface Passkey {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
  /** `multiDevice`: a passkey its provider syncs between devices. */
  device_type: 'singleDevice' | 'multiDevice';
  backed_up: boolean;
}

/** How the browser may reach an authenticator (WebAuthn's AuthenticatorTransport). */
export type PasskeyTransport = 'ble' | 'hybrid' | 'internal' | 'nfc' | 'usb';

/** A credential named in options, its id base64url. */
export interface PasskeyDescriptorJSON {
  id: string;
  type: 'public-key';
  transports?: PasskeyTransport[];
}

type UserVerification = 'required' | 'preferred' | 'discouraged';

/** PublicKeyCredentialCreationOptions as the server sends them (binary fields base64url). */
export interface PasskeyCreationOptionsJSON {
  challenge: string;
  rp: { id?: string; name: string };
  user: { id: string; name: string; displayName: string };
  pubKeyCredParams: Array<{ type: 'public-key'; alg: number }>;
  timeout?: number;
  excludeCredentials?: PasskeyDescriptorJSON[];
  authenticatorSelection?: {
    authenticatorAttachment?: 'platform' | 'cross-platform';
    residentKey?: 'discouraged' | 'preferred' | 'required';
    requireResidentKey?: boolean;
    userVerification?: UserVerification;
  };
  attestation?: 'none' | 'indirect' | 'direct' | 'enterprise';
  extensions?: { credProps?: boolean };
}

/** PublicKeyCredentialRequestOptions as the server sends them (binary fields base64url). */
export interface PasskeyRequestOptionsJSON {
  challenge: string;
  rpId?: string;
  timeout?: number;
  userVerification?: UserVerification;
  allowCredentials?: PasskeyDescriptorJSON[];
}

/** A new credential as JSON, for `POST /passkeys/register`. */
export interface RegistrationResponseJSON {
  id: string;
  rawId: string;
  type: 'public-key';
  response: { clientDataJSON: string; attestationObject: string; transports?: string[] };
  authenticatorAttachment?: 'platform' | 'cross-platform';
  clientExtensionResults: Record<string, unknown>;
}

/** An assertion as JSON, for `POST /login/passkey` and `POST /login/mfa`. */
export interface AssertionResponseJSON {
  id: string;
  rawId: string;
  type: 'public-key';
  response: { clientDataJSON: string; authenticatorData: string; signature: string; userHandle?: string };
  authenticatorAttachment?: 'platform' | 'cross-platform';
  clientExtensionResults: Record<string, unknown>;
}

/** A credential descriptor with its id as bytes. */
export interface WebAuthnDescriptor {
  id: ArrayBuffer;
  type: 'public-key';
  transports?: PasskeyTransport[];
}

/** What `navigator.credentials.create({ publicKey })` is given: the creation options with their binary fields as bytes. */
export interface WebAuthnCreationOptions extends Omit<PasskeyCreationOptionsJSON, 'challenge' | 'user' | 'excludeCredentials'> {
  challenge: ArrayBuffer;
  user: { id: ArrayBuffer; name: string; displayName: string };
  excludeCredentials?: WebAuthnDescriptor[];
}

/** What `navigator.credentials.get({ publicKey })` is given. */
export interface WebAuthnRequestOptions extends Omit<PasskeyRequestOptionsJSON, 'challenge' | 'allowCredentials'> {
  challenge: ArrayBuffer;
  allowCredentials?: WebAuthnDescriptor[];
}

/**
 * The part of `navigator.credentials` the passkey calls use (a test may pass its own). Declared
 * here rather than taken from the DOM library, so the client's types need no `lib: ["dom"]`;
 * a browser's `navigator.credentials` fits it.
 */
export interface WebAuthnCredentials {
  create(options: { publicKey: WebAuthnCreationOptions }): Promise<unknown>;
  get(options: { publicKey: WebAuthnRequestOptions }): Promise<unknown>;
}

/** `signInWithPasskey` input: an account to name (else the browser offers its passkeys), or a sign-in waiting for its second factor. */
export interface PasskeySignInInput {
  /** Username or email: the browser is asked for that account's passkeys. */
  username?: string;
  /** The `mfa_id` of an `mfa_required` answer: the passkey is the second factor. */
  mfaId?: string;
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
