import { randomBytes } from 'node:crypto';
import { insertOAuthState, deleteExpiredOAuthStates } from '../db/oauth-repository.js';
import type { Store } from '../db/store.js';
import type { OAuthStateRow } from '../db/schema.js';
import { decrypt, encrypt } from '../tokens/encryption.js';
import { sha256 } from '../tokens/secrets.js';

/** How long a user has to come back from the provider. */
export const OAUTH_STATE_TTL_SECONDS = 600;

/** What the OAuth service hands a strategy run through the request object. */
export interface FlowContext {
  provider: string;
  redirectTo: string | null;
  /** At the callback: the state row the service already took out of the table. */
  consumed?: OAuthStateRow;
}

export type FlowRequest = { authlibFlow: FlowContext };

type Callback = (err: unknown, result?: unknown, info?: unknown) => void;

/**
 * passport-oauth2 state store kept in the database, so any instance can finish a flow another began
 * and no session is needed. A state is 256 random bits; only its SHA-256 is stored, with the PKCE
 * verifier encrypted. The callback consumes the row (single use) before the strategy runs, to learn
 * the provider; `verify` then checks the presented state against that row.
 */
export class DatabaseStateStore {
  readonly #db: Store;

  constructor(
    db: Store,
    private readonly encryptionKey: Buffer,
    private readonly now: () => Date,
  ) {
    this.#db = db;
  }

  // passport-oauth2 picks the PKCE form of the interface by arity: (req, verifier, state, meta, cb).
  store(req: FlowRequest, verifier: string | undefined, _state: unknown, _meta: unknown, callback: Callback): void {
    const state = randomBytes(32).toString('base64url');
    const now = this.now();
    const flow = req.authlibFlow;
    this.#db
      .run(async (db) => {
        await deleteExpiredOAuthStates(db, now);
        await insertOAuthState(db, {
          state_hash: sha256(state),
          provider: flow.provider,
          verifier_enc: verifier ? encrypt(this.encryptionKey, verifier) : null,
          redirect_to: flow.redirectTo,
          created_at: now,
          expires_at: new Date(now.getTime() + OAUTH_STATE_TTL_SECONDS * 1000),
        });
      })
      .then(() => callback(null, state), callback);
  }

  verify(req: FlowRequest, providedState: unknown, callback: Callback): void {
    const row = req.authlibFlow.consumed;
    if (!row || typeof providedState !== 'string' || sha256(providedState) !== row.state_hash) {
      callback(null, false, { message: 'invalid state' });
      return;
    }
    const verifier = row.verifier_enc ? decrypt(this.encryptionKey, row.verifier_enc) : undefined;
    callback(null, verifier ?? true);
  }
}
