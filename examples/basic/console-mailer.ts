import type { Mailer, MailMessage } from 'express-authlib';

/**
 * DEVELOPMENT ONLY: a mailer that prints each mail (with its link or code) to the console instead
 * of sending it, so the demo shows password reset and email sign-in without an SMTP server.
 * Anyone who can read the server's output can take over any account: in production pass
 * `mailer: 'smtp://user:pass@mail.example.com:587?from=no-reply@example.com'` or your own sender.
 */
export function consoleMailer(print: (line: string) => void = (line) => console.log(line)): Mailer {
  return {
    async send(message: MailMessage) {
      print(
        [
          '----- [development mailer: not sent, printed] -----',
          `to: ${message.to}`,
          `subject: ${message.subject}`,
          `kind: ${message.kind}`,
          ...(message.token ? [`token: ${message.token}`] : []),
          ...(message.code ? [`code: ${message.code}`] : []),
          ...(message.url ? [`url: ${message.url}`] : []),
          '',
          message.text,
          '---------------------------------------------------',
        ].join('\n'),
      );
    },
  };
}
