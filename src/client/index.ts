// express-authlib/client: the typed client for browsers and Node. No Node-only imports.
export { createAuthClient, type AuthClient } from './client.js';
export type { AuthClientOptions } from './client-options.js';
export { AuthClientError, type ErrorBody } from './errors.js';
export { memoryStorage, type AuthStorage } from './storage.js';
export type { AuthState, AuthStore } from './auth-store.js';
export type {
  ApiToken,
  CreateApiTokenInput,
  CreatedApiToken,
  LoginInput,
  MfaLoginInput,
  MfaStatus,
  OtpLoginInput,
  AssertionResponseJSON,
  Passkey,
  PasskeyCreationOptionsJSON,
  PasskeyDescriptorJSON,
  PasskeyRequestOptionsJSON,
  PasskeySignInInput,
  PasskeyTransport,
  RegisterInput,
  RegistrationResponseJSON,
  WebAuthnCreationOptions,
  WebAuthnCredentials,
  WebAuthnDescriptor,
  WebAuthnRequestOptions,
  Session,
  TokenResponse,
  User,
} from './types.js';
export type { AuthErrorCode } from '../errors.js';
