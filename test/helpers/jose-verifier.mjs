// A verifier this project did not write, in its own process: jose's createRemoteJWKSet fetches the
// key set from the URL and jwtVerify checks each token (one JSON array on stdin), as a gateway or
// another service would. Prints one JSON array: {ok, sub, alg, kid} or {ok: false, code}.
// Usage: node jose-verifier.mjs <jwks-url> <issuer> <audience>
import { readFileSync } from 'node:fs';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const [url, issuer, audience] = process.argv.slice(2);
const tokens = JSON.parse(readFileSync(0, 'utf8'));
const keys = createRemoteJWKSet(new URL(url));
const results = [];
for (const token of tokens) {
  try {
    const { payload, protectedHeader } = await jwtVerify(token, keys, { issuer, audience, typ: 'at+jwt', algorithms: ['EdDSA', 'ES256'] });
    results.push({ ok: true, sub: payload.sub, alg: protectedHeader.alg, kid: protectedHeader.kid });
  } catch (err) {
    results.push({ ok: false, code: err.code ?? err.name });
  }
}
console.log(JSON.stringify(results));
