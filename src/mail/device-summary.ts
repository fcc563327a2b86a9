import Bowser from 'bowser';

/** The names bowser knows. It falls back to the first word of an unknown User-Agent, which is free text. */
const BROWSERS: ReadonlySet<string> = new Set(Object.values(Bowser.BROWSER_MAP));
const SYSTEMS: ReadonlySet<string> = new Set(Object.values(Bowser.OS_MAP));

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
  let parsed: Bowser.Parser.ParsedResult;
  try {
    parsed = Bowser.parse(userAgent.slice(0, MAX_USER_AGENT));
  } catch {
    return undefined;
  }
  const browser = parsed.browser.name && BROWSERS.has(parsed.browser.name) ? parsed.browser.name : undefined;
  const system = parsed.os.name && SYSTEMS.has(parsed.os.name) ? parsed.os.name : undefined;
  if (browser && system) return `${browser} on ${system}`;
  if (browser) return browser;
  if (system) return `a browser on ${system}`;
  return undefined;
}
