// How many wrong second factors an attacker who knows the password gets checked against one
// account in a fixed time, with a new client address for every guess (unlimited addresses), the
// rate limits as shipped. Each mfa_id is used for 4 guesses (the fifth would end it). Prints the
// guesses checked, refused (429), and the rate. `npx tsx bench/second-factor-guessing.ts [seconds]`;
// not part of `npm test`.
import * as OTPAuth from 'otpauth';
import { attackTarget } from './attack-target.js';

const seconds = Number(process.argv[2] ?? 20);
const { auth, http, close } = await attackTarget();
const BASE = '/api/v1/users';
const password = 'a long enough passphrase';
const user = await auth.users.create({ username: 'target', email: 'target@example.com', password, email_verified: true });
const { token } = await auth.issueTokens(user.id);
const setup = await http.post(`${BASE}/mfa/totp/setup`).set('Authorization', `Bearer ${token}`).send({ password });
const secret = OTPAuth.Secret.fromBase32(setup.body.secret as string);
const code = (at: number) => new OTPAuth.TOTP({ secret, algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: at });
const confirmed = await http
  .post(`${BASE}/mfa/totp/confirm`)
  .set('Authorization', `Bearer ${token}`)
  .send({ code: code(Date.now() - 30_000) });
if (confirmed.status !== 200) throw new Error(`TOTP setup failed: ${confirmed.status}`);

let address = 0;
const from = () => {
  address += 1;
  return { 'X-Forwarded-For': `10.${(address >> 16) & 255}.${(address >> 8) & 255}.${address & 255}` };
};
const wrong = () => String((Number(code(Date.now())) + 500_000) % 1_000_000).padStart(6, '0');

let checked = 0;
let refused = 0;
let other = 0;
const end = Date.now() + seconds * 1000;
while (Date.now() < end) {
  const first = await http.post(`${BASE}/login`).set(from()).send({ username: 'target', password });
  const mfaId = first.body.mfa_id as string | undefined;
  if (!mfaId) {
    other += 1;
    continue;
  }
  for (let i = 0; i < 4 && Date.now() < end; i++) {
    const res = await http.post(`${BASE}/login/mfa`).set(from()).send({ mfa_id: mfaId, method: 'totp', code: wrong() });
    if (res.status === 400) checked += 1;
    else if (res.status === 429) refused += 1;
    else other += 1;
  }
}
const rate = checked / seconds;
console.log(
  `${process.env.BENCH_DSN ? 'PostgreSQL' : 'PGlite'}: in ${seconds} s, ${checked} wrong TOTP guesses checked (${rate.toFixed(1)}/s), ${refused} refused with 429, ${other} other answers; ${address} client addresses`,
);
await close();
