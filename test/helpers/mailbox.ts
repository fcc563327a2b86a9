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
    next: (kind, to) => nextMail(messages, taken, waiting, kind, to, 5000),
  };
}

/** A mail as an SMTP server received it, read back into what a test needs. */
export interface ReceivedMail {
  kind: MailKind | undefined;
  to: string;
  subject: string;
  text: string;
  html: string;
  /** The link token in the mail ("Your token: ..." or a `#token=` link), if any. */
  token?: string;
  /** The sign-in code in the mail, if any. */
  code?: string;
}

/** An SMTP server on a free local port and a `smtp://` URL for the library, with `next` as `Mailbox` has. */
export interface SmtpMailbox {
  url: string;
  received: ReceivedMail[];
  next(kind: MailKind, to: string): Promise<ReceivedMail>;
  close(): Promise<void>;
}

/** The kind of a mail from its default subject. */
const SUBJECTS: ReadonlyArray<readonly [RegExp, MailKind]> = [
  [/reset your password$/, 'password_reset'],
  [/verify your email address$/, 'verification'],
  [/confirm your new email address$/, 'email_change'],
  [/your email address was changed$/, 'email_changed'],
  [/your sign-in code$/, 'otp'],
  [/wrong sign-in codes for your account$/, 'failed_codes'],
  [/new sign-in to your account$/, 'new_device'],
  [/a passkey was added to your account$/, 'passkey_added'],
];

/**
 * The real round trip: the library sends through its SMTP client to a local smtp-server, and
 * mailparser reads each mail back; `next` waits for one of a kind to an address, as `mailbox()`.
 */
export async function smtpMailbox(): Promise<SmtpMailbox> {
  const { SMTPServer } = await import('smtp-server');
  const { simpleParser } = await import('mailparser');
  const received: ReceivedMail[] = [];
  const taken = new Set<ReceivedMail>();
  const waiting: Array<() => void> = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((mail) => {
          const subject = mail.subject ?? '';
          const text = mail.text ?? '';
          const token = /Your token: ([0-9A-Za-z]{43})/.exec(text)?.[1] ?? /[#?&]token=([0-9A-Za-z%]+)/.exec(text)?.[1];
          const code = /Your code: (\d+)/.exec(text)?.[1];
          const to = Array.isArray(mail.to) ? (mail.to[0]?.text ?? '') : (mail.to?.text ?? '');
          received.push({
            kind: SUBJECTS.find(([re]) => re.test(subject))?.[1],
            to,
            subject,
            text,
            html: typeof mail.html === 'string' ? mail.html : '',
            ...(token ? { token: decodeURIComponent(token) } : {}),
            ...(code ? { code } : {}),
          });
          for (const wake of waiting.splice(0)) wake();
          callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as { port: number }).port;
  return {
    url: `smtp://127.0.0.1:${port}?from=accounts@app.example`,
    received,
    next: (kind, to) => nextMail(received, taken, waiting, kind, to, 10_000),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * The next mail (already arrived or still to come) of `kind` to `to` not handed out before; rejects
 * after `timeoutMs`. `waiting` holds the wake-ups that each arrival calls.
 */
async function nextMail<M extends { kind?: MailKind | undefined; to: string }>(
  mails: readonly M[],
  taken: Set<M>,
  waiting: Array<() => void>,
  kind: MailKind,
  to: string,
  timeoutMs: number,
): Promise<M> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = mails.find((m) => m.kind === kind && m.to.toLowerCase() === to.toLowerCase() && !taken.has(m));
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
}
