import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthContext } from '../services/authenticator.js';

/** A request as the library's handlers see it (plain Node, plus what the router and middleware add). */
export type Req = IncomingMessage & { body?: unknown; params?: Record<string, string | undefined>; auth?: AuthContext; user?: unknown };
export type Res = ServerResponse;
export type Next = (err?: unknown) => void;
export type Handler = (req: Req, res: Res, next: Next) => void | Promise<void>;

/** The caller attached by the authenticate middleware; routes mounted behind it may rely on it. */
export function caller(req: Req): AuthContext {
  if (!req.auth) throw new Error('express-authlib: route reached without authentication');
  return req.auth;
}

/** The subset of the `router` package the route files use. */
export interface Routes {
  get(path: string, ...handlers: Handler[]): unknown;
  post(path: string, ...handlers: Handler[]): unknown;
  patch(path: string, ...handlers: Handler[]): unknown;
  delete(path: string, ...handlers: Handler[]): unknown;
  use(handler: Handler | ((err: unknown, req: Req, res: Res, next: Next) => void)): unknown;
}
