import { randomBase62 } from './secrets.js';

/** Every API token starts with this, so scanners and requireAuth can tell it from a JWT. */
export const API_TOKEN_PREFIX = 'api_';
const ID_LENGTH = 8;
/** 43 base62 characters carry 256 bits. */
const SECRET_LENGTH = 43;
const SHAPE = /^api_([0-9A-Za-z]{8})([0-9A-Za-z]{32,128})$/;

/** A fresh token: `api_` + 8-character public id + random secret. */
export function generateApiToken(): { id: string; token: string } {
  const id = randomBase62(ID_LENGTH);
  return { id, token: `${API_TOKEN_PREFIX}${id}${randomBase62(SECRET_LENGTH)}` };
}

/** The public id of a well-formed API token, or undefined. */
export function parseApiToken(token: string): { id: string } | undefined {
  const match = SHAPE.exec(token);
  return match ? { id: match[1]! } : undefined;
}
