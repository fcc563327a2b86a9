import type Nodemailer from 'nodemailer';
import { lazyRequire } from '../lazy-require.js';
import type { Mailer, MailMessage } from './mailer.js';

/**
 * The `mailer` given as an `smtp://` / `smtps://` URL, sent through nodemailer (maintained, and
 * the SMTP client most Node apps already use). A `from` query parameter sets the sender
 * (`smtp://user:pass@mail.example.com:587?from=no-reply@example.com`); without one it is
 * `no-reply@<the SMTP host>`. Other query parameters are nodemailer's own transport options.
 */
const nodemailer = lazyRequire<typeof Nodemailer>('nodemailer');

export function smtpMailer(url: string): Mailer {
  const parsed = new URL(url);
  const from = parsed.searchParams.get('from') ?? `no-reply@${parsed.hostname}`;
  parsed.searchParams.delete('from');
  const transport = nodemailer().createTransport(parsed.toString());
  return {
    async send(message: MailMessage) {
      await transport.sendMail({ from, to: message.to, subject: message.subject, text: message.text, html: message.html });
    },
  };
}
