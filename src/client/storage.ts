/**
 * Where the client keeps what must survive a reload: in bearer mode the refresh token, in cookie
 * mode only the CSRF token (the refresh token is in an HttpOnly cookie). `localStorage` and
 * `sessionStorage` fit as they are.
 */
export interface AuthStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** The default: a Map, gone with the page. Nothing outlives a reload, and nothing is readable by other scripts' storage reads. */
export function memoryStorage(): AuthStorage {
  const items = new Map<string, string>();
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  };
}

/** The page's `sessionStorage` if it has a usable one (absent in Node, throws in some sandboxed frames). */
export function sessionStorageOrMemory(): AuthStorage {
  try {
    const session = (globalThis as { sessionStorage?: AuthStorage }).sessionStorage;
    if (session) return session;
  } catch {
    // Access denied: fall through.
  }
  return memoryStorage();
}
