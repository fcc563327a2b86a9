/** A mail sender `{ send(message) }`. Accepted and validated; this version sends no mail. */
export interface Mailer {
  send(message: { to: string; subject: string; text: string; html?: string }): Promise<void>;
}
