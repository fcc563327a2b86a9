// The app the attack measurements (otp-timing, second-factor-guessing) run against: the library
// mounted with its rate limits as shipped, every request free to name its own client address
// (trustProxy), on PGlite or on PostgreSQL (BENCH_DSN), whose schema is dropped at the end.
import { randomBytes } from 'node:crypto';
import express from 'express';
import request from 'supertest';
import { AuthManager, type MailMessage } from 'express-authlib';
import { dropBenchSchema } from './drop-schema.js';

export async function attackTarget(onMail: (message: MailMessage) => void = () => undefined) {
  const app = express();
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const auth = new AuthManager(app, {
    dbDsn: process.env.BENCH_DSN ?? 'pglite://memory',
    dbSchema: schema,
    jwtSecret: randomBytes(48),
    bcryptRounds: 4,
    trustProxy: true,
    rateLimit: {},
    mailer: { send: async (message) => onMail(message) },
    logger: false,
  });
  await auth.ready;
  return {
    auth,
    http: request(app),
    close: async (): Promise<void> => {
      await auth.close();
      await dropBenchSchema(schema);
    },
  };
}
