import { loginIdOf } from './login-id.js';

// Refreshes happen once at a time: within a page (single flight), and across the tabs that share
// one refresh credential (a cookie, or a shared storage), where two rotations of the same token
// would look like reuse and revoke the login. Only tabs of the same login share: every message
// names its login (user and session), and a tab acts only on those of its own. Two tabs signed in
// as two users (each with its own `sessionStorage`) never hand each other a token.

/** A new access token shared between tabs (never the CSRF token: it is the same for every token of one login). */
export interface Refreshed {
  token: string;
}

/** Every message names the login it is about: `<user id> <session id>`. */
type Message = { login: string } & ({ type: 'refreshing' } | { type: 'refreshed'; token: string } | { type: 'failed' } | { type: 'signed_out' });

/** Whether `value` is a message of ours (the channel is shared by every script of the origin). */
function isMessage(value: unknown): value is Message {
  const m = value as Partial<Message> | null;
  if (typeof m !== 'object' || m === null || typeof m.login !== 'string') return false;
  if (m.type === 'refreshed') return typeof (m as { token?: unknown }).token === 'string';
  return m.type === 'refreshing' || m.type === 'failed' || m.type === 'signed_out';
}

/** The part of BroadcastChannel used (typed here: Node's and the DOM's declarations differ). */
interface Channel {
  postMessage(message: Message): void;
  close(): void;
  onmessage: ((event: { data: unknown }) => void) | null;
}

/** The part of the Web Locks API used (not in every runtime's types). */
interface LockManagerLike {
  request(name: string, callback: () => Promise<unknown>): Promise<unknown>;
}

/** How long a tab waits for another tab's announced refresh before doing its own. */
const PEER_WAIT_MS = 5000;

export class RefreshCoordinator {
  #inflight: Promise<Refreshed> | null = null;
  #channel: Channel | null = null;
  #peer: { promise: Promise<Refreshed | null>; settle: (value: Refreshed | null) => void } | null = null;
  #lastShared = 0;

  /**
   * `name`: the channel (null: no cross-tab sharing); `login`: this tab's login now (null when it
   * has none); `refreshNow`: the one real refresh; `onPeer`: a token or sign-out of this same login
   * from another tab.
   */
  constructor(
    private readonly name: string | null,
    private readonly login: () => string | null,
    private readonly refreshNow: () => Promise<Refreshed>,
    private readonly onPeer: (message: { type: 'refreshed'; token: string } | { type: 'signed_out' }) => void,
  ) {
    const BroadcastChannelCtor = (globalThis as unknown as { BroadcastChannel?: new (name: string) => Channel }).BroadcastChannel;
    if (name !== null && BroadcastChannelCtor) {
      this.#channel = new BroadcastChannelCtor(name);
      this.#channel.onmessage = (event) => this.#receive(event.data);
      // In Node an open channel would keep the process alive.
      (this.#channel as { unref?: () => void }).unref?.();
    }
  }

  /** One refresh, whoever asks and however often: concurrent callers share its result. */
  refresh(): Promise<Refreshed> {
    this.#inflight ??= this.#coordinated().finally(() => {
      this.#inflight = null;
    });
    return this.#inflight;
  }

  /** Tells the other tabs of `login` (the login just ended here) that it is over. */
  announceSignOut(login: string | null): void {
    if (login !== null) this.#channel?.postMessage({ type: 'signed_out', login });
  }

  close(): void {
    this.#channel?.close();
    this.#channel = null;
  }

  async #coordinated(): Promise<Refreshed> {
    const startedAt = Date.now();
    const run = async (): Promise<Refreshed> => {
      // Another tab said it is refreshing: its result is ours too.
      const fromPeer = await this.#peer?.promise;
      if (fromPeer) return fromPeer;
      // Another tab refreshed since we were asked (while we waited for the lock).
      if (this.#latest && this.#lastShared >= startedAt) return this.#latest;
      return this.#announced();
    };
    // With Web Locks (every current browser) tabs take turns, so two can never rotate at once.
    const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
    if (this.#channel === null || !locks) return run();
    let result: Refreshed | undefined;
    await locks.request(`${this.name}:refresh`, async () => {
      result = await run();
    });
    return result!;
  }

  #latest: Refreshed | null = null;

  async #announced(): Promise<Refreshed> {
    const login = this.login();
    this.#post(login, { type: 'refreshing' });
    try {
      const refreshed = await this.refreshNow();
      // A refresh keeps the login (same user, same session): peers of it take the token.
      this.#post(loginIdOf(refreshed.token), { type: 'refreshed', token: refreshed.token });
      return refreshed;
    } catch (err) {
      this.#post(login, { type: 'failed' });
      throw err;
    }
  }

  #receive(message: unknown): void {
    if (!isMessage(message)) return;
    // Another login's news (another user, or another session of ours) is not ours to act on.
    const mine = this.login();
    if (mine === null || message.login !== mine) return;
    switch (message.type) {
      case 'refreshing': {
        if (this.#peer) return;
        let settle!: (value: Refreshed | null) => void;
        const promise = new Promise<Refreshed | null>((resolve) => (settle = resolve));
        const timer = setTimeout(() => settle(null), PEER_WAIT_MS);
        this.#peer = {
          promise: promise.finally(() => {
            clearTimeout(timer);
            this.#peer = null;
          }),
          settle,
        };
        return;
      }
      case 'refreshed':
        // The token itself must be of this login, whatever the message says.
        if (loginIdOf(message.token) !== mine) return;
        this.#latest = { token: message.token };
        this.#lastShared = Date.now();
        this.onPeer({ type: 'refreshed', token: message.token });
        this.#peer?.settle(this.#latest);
        return;
      case 'failed':
        this.#peer?.settle(null);
        return;
      case 'signed_out':
        this.onPeer(message);
        this.#peer?.settle(null);
    }
  }

  #post(login: string | null, message: { type: 'refreshing' } | { type: 'refreshed'; token: string } | { type: 'failed' }): void {
    if (login !== null) this.#channel?.postMessage({ ...message, login });
  }
}
