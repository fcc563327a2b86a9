import type { User } from './types.js';

/** What the client knows about the signed-in user. The access token lives only here, in memory. */
export interface AuthState {
  accessToken: string | null;
  user: User | null;
}

/** The auth store: read the state, and be told when it changes (sign-in, refresh, sign-out). */
export interface AuthStore {
  getAccessToken(): string | null;
  getUser(): User | null;
  getState(): AuthState;
  /** Calls `listener` after every change; returns the function that unsubscribes it. */
  subscribe(listener: (state: AuthState) => void): () => void;
}

/** The store and the setter only the client uses. */
export function createAuthStore(): AuthStore & { set(patch: Partial<AuthState>): void } {
  let state: AuthState = { accessToken: null, user: null };
  const listeners = new Set<(state: AuthState) => void>();
  return {
    getAccessToken: () => state.accessToken,
    getUser: () => state.user,
    getState: () => state,
    subscribe(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    set(patch) {
      state = { ...state, ...patch };
      for (const listener of [...listeners]) listener(state);
    },
  };
}
