import { randomBytes } from 'node:crypto';
import type { FlowData } from './provider.js';

/** How long a user has to come back from the provider. */
export const OAUTH_STATE_TTL_SECONDS = 600;

/** A fresh state: 256 random bits. */
export function newState(): string {
  return randomBytes(32).toString('base64url');
}

/** What one run of a strategy shares with the state store through the request view. */
export interface FlowScratch {
  /** At the start: the state the store handed out. At the callback: the state the browser came back with. */
  state?: string;
  data: FlowData;
  /** At the callback: the row was found for this browser, so `state` is known good. */
  verified?: boolean;
}

export type FlowRequest = { authlibFlow: FlowScratch };

type Callback = (err: unknown, result?: unknown, info?: unknown) => void;

const lastFunction = (args: unknown[]) => args.reverse().find((a): a is Callback => typeof a === 'function');

/** Dates do not survive JSON; passport-openidconnect compares `ctx.issued` as one. */
function reviveContext(ctx: Record<string, unknown>): Record<string, unknown> {
  return typeof ctx.issued === 'string' ? { ...ctx, issued: new Date(ctx.issued) } : ctx;
}

/**
 * The state store set on passport strategies that take one. It accepts both signatures in use:
 * passport-oauth2's `store(req, verifier, state, meta, cb)` (and its shorter forms) with
 * `verify(req, state, cb)` answering the PKCE verifier, and passport-openidconnect's
 * `store(req, ctx, appState, meta, cb)` with `verify(req, handle, cb)` answering `(ctx, appState)`.
 * It keeps nothing itself: what it is given goes into the flow's data, which the flow stores
 * (encrypted, with the state) once the strategy has built its URL.
 */
export class PassportStateStore {
  // Declared with five parameters: passport-oauth2 picks the form it calls by this arity.
  store(req: FlowRequest, second?: unknown, third?: unknown, fourth?: unknown, fifth?: unknown): void {
    const callback = lastFunction([second, third, fourth, fifth]);
    if (!callback) return;
    const flow = req.authlibFlow;
    if (second !== null && typeof second === 'object') {
      flow.data.ctx = second as Record<string, unknown>;
      if (third !== undefined && typeof third !== 'function') flow.data.appState = third;
    } else if (typeof second === 'string') {
      flow.data.verifier = second;
    }
    flow.state = newState();
    callback(null, flow.state);
  }

  verify(req: FlowRequest, providedState: unknown, callback: Callback): void {
    const flow = req.authlibFlow;
    if (!flow.verified || typeof providedState !== 'string' || providedState !== flow.state) {
      callback(null, false, { message: 'invalid state' });
      return;
    }
    if (flow.data.ctx) callback(null, reviveContext(flow.data.ctx), flow.data.appState);
    else callback(null, flow.data.verifier ?? true);
  }
}
