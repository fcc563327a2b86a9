/** Browsers a mail may name, in the order they are looked for (Edge and Opera also say "Chrome"; Chrome also says "Safari"). */
const BROWSERS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bEdg(e|A|iOS)?\//, 'Edge'],
  [/\b(OPR|Opera)\//, 'Opera'],
  [/\bFirefox\/|\bFxiOS\//, 'Firefox'],
  [/\bChrome\/|\bCriOS\//, 'Chrome'],
  [/\bSafari\//, 'Safari'],
  [/^curl\//, 'curl'],
];

/** Systems a mail may name (Android says "Linux" too; iOS says "Mac OS X"). */
const SYSTEMS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bAndroid\b/, 'Android'],
  [/\b(iPhone|iPad|iPod)\b/, 'iOS'],
  [/\bWindows\b/, 'Windows'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bLinux\b/, 'Linux'],
];

/**
 * A short description of the device a request came from, made only of words from the two lists
 * above ("Firefox on Windows", "a browser on Android"), or undefined. The User-Agent header is the
 * requester's free text: a mail to the account's owner must not carry it, or whoever asks for a
 * reset link can write "use https://evil.example/reset instead" into it.
 */
export function deviceSummary(userAgent: string | undefined): string | undefined {
  if (typeof userAgent !== 'string' || userAgent.length === 0) return undefined;
  const ua = userAgent.slice(0, 512);
  const browser = BROWSERS.find(([re]) => re.test(ua))?.[1];
  const system = SYSTEMS.find(([re]) => re.test(ua))?.[1];
  if (browser && system) return `${browser} on ${system}`;
  if (browser) return browser;
  if (system) return `a browser on ${system}`;
  return undefined;
}
