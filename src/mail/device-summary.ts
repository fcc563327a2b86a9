import type BowserModule from 'bowser';
import { lazyRequire } from '../lazy-require.js';

/**
 * Loaded on the first description of a device (a sign-in, a mail): an instance that only checks
 * tokens never holds the parser and its tables in its heap.
 */
const bowser = lazyRequire<typeof BowserModule>('bowser');

/** The names bowser knows. It falls back to the first word of an unknown User-Agent, which is free text. */
let known: { browsers: ReadonlySet<string>; systems: ReadonlySet<string> } | undefined;
const knownNames = () => (known ??= { browsers: new Set(Object.values(bowser().BROWSER_MAP)), systems: new Set(Object.values(bowser().OS_MAP)) });

/** Longest User-Agent looked at: nothing a real browser sends is longer. */
const MAX_USER_AGENT = 512;

/**
 * A short description of the device a request came from ("Chrome on macOS", "Firefox", "a browser
 * on Android"), parsed by a maintained User-Agent parser (bowser) and made only of the names it
 * lists, or undefined. The User-Agent header is the requester's free text: a mail to the account's
 * owner or a list of their sessions must not carry it, or whoever asks for a reset link can write
 * "use https://evil.example/reset instead" into it.
 */
export function deviceSummary(userAgent: string | undefined): string | undefined {
  if (typeof userAgent !== 'string' || userAgent.length === 0) return undefined;
  let parsed: BowserModule.Parser.ParsedResult;
  try {
    parsed = bowser().parse(userAgent.slice(0, MAX_USER_AGENT));
  } catch {
    return undefined;
  }
  const { browsers, systems } = knownNames();
  const browser = parsed.browser.name && browsers.has(parsed.browser.name) ? parsed.browser.name : undefined;
  const system = parsed.os.name && systems.has(parsed.os.name) ? parsed.os.name : undefined;
  if (browser && system) return `${browser} on ${system}`;
  if (browser) return browser;
  if (system) return `a browser on ${system}`;
  return undefined;
}
