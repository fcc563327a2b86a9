// How long POST /login/otp takes to refuse a wrong code for the otp_id of a registered address and
// for the otp_id of an unknown one: the two must not differ (no enumeration by timing). Each pair
// asks for two fresh otp_ids (one known, one unknown address), then times one wrong code on each,
// in alternating order; rate limits as shipped, a new client address per request. Prints the
// medians and how often the known one was the slower of its pair.
// `npx tsx bench/otp-timing.ts [pairs]`; not part of `npm test`.
import { attackTarget } from './attack-target.js';

const pairs = Number(process.argv[2] ?? 200);
let mails = 0;
const { auth, http, close } = await attackTarget(() => {
  mails += 1;
});
const BASE = '/api/v1/users';
let address = 0;
const from = () => {
  address += 1;
  return { 'X-Forwarded-For': `10.${(address >> 16) & 255}.${(address >> 8) & 255}.${address & 255}` };
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timed(otpId: string): Promise<number> {
  const start = process.hrtime.bigint();
  const res = await http.post(`${BASE}/login/otp`).set(from()).send({ otp_id: otpId, code: '000000' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (res.status !== 400) throw new Error(`expected 400, got ${res.status}`);
  return ms;
}

const known: number[] = [];
const unknown: number[] = [];
let knownSlower = 0;
for (let i = 0; i < pairs + 10; i++) {
  const email = `known${i}@example.com`;
  await auth.users.create({ username: `known${i}`, email, password: 'a long enough passphrase', email_verified: true });
  const k = (await http.post(`${BASE}/request-otp`).set(from()).send({ email })).body.otp_id as string;
  const u = (
    await http
      .post(`${BASE}/request-otp`)
      .set(from())
      .send({ email: `nobody${i}@example.com` })
  ).body.otp_id as string;
  const sent = mails + 1;
  for (let wait = 0; mails < sent && wait < 200; wait++) await new Promise((resolve) => setTimeout(resolve, 5));
  // What each request left behind (the decoy work, the audit events) has finished too.
  await new Promise((resolve) => setTimeout(resolve, 30));
  const [a, b] = i % 2 === 0 ? [await timed(k), await timed(u)] : [0, 0];
  const [d, c] = i % 2 === 1 ? [await timed(u), await timed(k)] : [b, a];
  if (i < 10) continue; // warm-up
  known.push(i % 2 === 0 ? a : c);
  unknown.push(i % 2 === 0 ? b : d);
  if (known.at(-1)! > unknown.at(-1)!) knownSlower += 1;
}
console.log(
  `${process.env.BENCH_DSN ? 'PostgreSQL' : 'PGlite'}: ${pairs} pairs, median known ${median(known).toFixed(2)} ms, unknown ${median(unknown).toFixed(2)} ms; known slower in ${((100 * knownSlower) / pairs).toFixed(0)}% of pairs`,
);
await close();
