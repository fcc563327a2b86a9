import { isIP } from 'node:net';
import type { SessionPlace } from '../db/sessions-repository.js';
import { deviceSummary } from '../mail/device-summary.js';
import type { EventOrigin } from '../security/audit.js';

/** Where a login is used from, as kept with it: an address only if it parses as one, the device only as a summary. */
export function placeOf(origin: EventOrigin | undefined): SessionPlace {
  const ip = origin?.ip;
  return { ip: ip !== undefined && isIP(ip) ? ip : null, device: deviceSummary(origin?.userAgent) ?? null };
}
