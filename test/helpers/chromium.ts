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

/** A headless Chromium, quiet: no sandbox (containers), no GPU, no background traffic. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
