import type { MailKind, MailMessage } from '../../src/index.js';

/** A `mailer` that keeps every message, and lets a test wait for the next one of a kind to an address. */
export interface Mailbox {
  mailer: { send(message: MailMessage): Promise<void> };
  messages: MailMessage[];
  /** The next message (already sent or still to come) of `kind` to `to`; rejects after 5 s. */
  next(kind: MailKind, to: string): Promise<MailMessage>;
}

export function mailbox(): Mailbox {
  const messages: MailMessage[] = [];
  const taken = new Set<MailMessage>();
  const waiting: Array<() => void> = [];
  return {
    messages,
    mailer: {
      async send(message) {
        messages.push(message);
        for (const wake of waiting.splice(0)) wake();
      },
    },
    async next(kind, to) {
      const deadline = Date.now() + 5000;
      for (;;) {
        const found = messages.find((m) => m.kind === kind && m.to.toLowerCase() === to.toLowerCase() && !taken.has(m));
        if (found) {
          taken.add(found);
          return found;
        }
        if (Date.now() > deadline) throw new Error(`no ${kind} mail to ${to}`);
        await new Promise<void>((resolve) => {
          waiting.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
  };
}
