import { Command, Option } from 'commander';
import { generateSigningKey, type SigningAlgorithm } from '../../src/index.js';

/** `authlib keys generate`: a private key for the `signingKeys` option, printed once. */
export function keysCommand(): Command {
  const keys = new Command('keys').description('signing keys for access tokens (the signingKeys option)');

  keys
    .command('generate')
    .description('print a new private key for signingKeys (keep it as secret as jwtSecret; its public half is served at /.well-known/jwks.json)')
    .addOption(new Option('--alg <alg>', 'EdDSA (Ed25519) or ES256 (P-256)').choices(['EdDSA', 'ES256']).default('EdDSA'))
    .addOption(new Option('--format <format>', 'pem (PKCS#8) or jwk (JSON, with its kid)').choices(['pem', 'jwk']).default('pem'))
    .action((o: { alg: SigningAlgorithm; format: 'pem' | 'jwk' }) => {
      process.stdout.write(`${generateSigningKey(o.alg, o.format).trimEnd()}\n`);
    });

  return keys;
}
