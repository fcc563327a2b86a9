import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

// The browser tests drive Debian's `chromium` package through playwright-core: no browser is
// downloaded. Without it they are skipped, with a warning saying how to install it.

export const CHROMIUM = '/usr/bin/chromium';

/** Whether Chromium is installed; warns that `suite` is skipped when it is not. */
export function hasChromium(suite: string): boolean {
  const present = existsSync(CHROMIUM);
  if (!present) console.warn(`${suite}: skipped, ${CHROMIUM} is missing (apt-get install -y chromium)`);
  return present;
}

/** A headless Chromium, quiet: no sandbox (containers), no GPU, no background traffic; `args` adds flags. */
export function launchChromium(args: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', ...args],
  });
}

/**
 * Flags for a browser that sees real host names on this machine: each of `hosts` resolves to
 * 127.0.0.1, and the certificate whose key has the SPKI hash `spki` (see test-certificate.ts) is
 * trusted, so `https://<host>:<port>` pages are secure contexts with a valid certificate.
 */
export function hostFlags(hosts: string[], spki: string): string[] {
  return [`--host-resolver-rules=${hosts.map((h) => `MAP ${h} 127.0.0.1`).join(', ')}`, `--ignore-certificate-errors-spki-list=${spki}`];
}
