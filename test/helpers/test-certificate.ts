import { createHash, generateKeyPairSync, sign } from 'node:crypto';

// A self-signed TLS certificate made at test time with node:crypto alone (no openssl, no package):
// a P-256 key and a minimal X.509 v3 certificate naming the hosts in subjectAltName. Chromium is
// told to trust it by its key's SPKI hash (`--ignore-certificate-errors-spki-list`), so pages on
// those hosts are secure contexts with valid certificates: `Secure` and `__Host-` cookies behave
// exactly as on a real https site.

/** DER: tag, length, content. */
function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  const length = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, body]);
}
const seq = (...c: Buffer[]) => der(0x30, ...c);
const set = (...c: Buffer[]) => der(0x31, ...c);
function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const bytes = [a! * 40 + b!];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
}
const utf8 = (s: string) => der(0x0c, Buffer.from(s, 'utf8'));
function utcTime(d: Date): Buffer {
  const p = (n: number) => String(n).padStart(2, '0');
  const text = `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return der(0x17, Buffer.from(text, 'ascii'));
}

/** A certificate for `hosts` (PEM), its key (PEM), and the base64 SHA-256 of its SPKI for Chromium. */
export interface TestCertificate {
  cert: string;
  key: string;
  spki: string;
}

export function testCertificate(hosts: string[]): TestCertificate {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spkiDer = publicKey.export({ type: 'spki', format: 'der' });
  const ecdsaSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const name = seq(set(seq(oid('2.5.4.3'), utf8(hosts[0]!))));
  const now = Date.now();
  const san = seq(...hosts.map((h) => der(0x82, Buffer.from(h, 'ascii'))));
  const extensions = der(0xa3, seq(seq(oid('2.5.29.17'), der(0x04, san))));
  const tbs = seq(
    der(0xa0, der(0x02, Buffer.from([2]))), // v3
    der(0x02, Buffer.from([0x01, ...createHash('sha256').update(String(now)).digest().subarray(0, 8)])),
    ecdsaSha256,
    name,
    seq(utcTime(new Date(now - 86_400_000)), utcTime(new Date(now + 7 * 86_400_000))),
    name,
    spkiDer,
    extensions,
  );
  const signature = sign('sha256', tbs, privateKey);
  const certDer = seq(tbs, ecdsaSha256, der(0x03, Buffer.from([0]), signature));
  const pem = `-----BEGIN CERTIFICATE-----\n${certDer.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;
  return {
    cert: pem.replace(/\n\n/g, '\n'),
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    spki: createHash('sha256').update(spkiDer).digest('base64'),
  };
}
