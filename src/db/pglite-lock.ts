import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { link, lstat, mkdir, rmdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseLockedError, type LockHolder } from '../errors.js';
import { readRegularFile } from './read-regular-file.js';

/** The lock file, inside the PGlite data directory (PostgreSQL ignores files it does not know). */
export const LOCK_FILE = 'express-authlib.lock';

const PROCESS_STARTED_AT = new Date(Date.now() - process.uptime() * 1000).toISOString();

/**
 * What the lock file holds: its holder, and (on Linux) which boot of the machine and which moment of
 * that boot the holder process started, in the kernel's clock ticks since boot. Those two tell a
 * pid that another process took over since (a container's pid 1, say) from the holder itself, and
 * unlike `started_at` no step of the wall clock moves them.
 */
interface LockRecord extends LockHolder {
  boot?: string;
  ticks?: string;
}

/** The forms the kernel writes them in; a lock holding anything else is not judged by them. */
const TICKS = /^\d{1,20}$/;
const BOOT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** This machine's boot, as the kernel names it; undefined off Linux. */
const bootId = (): string | undefined => readText('/proc/sys/kernel/random/boot_id')?.trim() || undefined;

/** When process `pid` started, in clock ticks since boot (field 22 of its stat); undefined if it is gone or off Linux. */
function startTicks(pid: number | 'self'): string | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  // The command name (field 2) is in parentheses and may itself hold spaces or parentheses.
  const ticks = stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  // Compared as numbers: the kernel writes no leading zeros, a hand-edited lock might.
  return ticks !== undefined && TICKS.test(ticks) ? String(BigInt(ticks)) : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // Only "no such process" says it is gone; EPERM (it exists, under another user) and anything
    // else leave the lock standing: a lock is never removed on a doubt.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

const UNREADABLE: LockRecord = { pid: 0, host: 'unknown', started_at: 'unknown' };

/** A process id the kernel can have: kill() takes a signed 32-bit one, and 0 or less names process groups. */
const isPid = (pid: unknown): pid is number => Number.isSafeInteger(pid) && (pid as number) > 0 && (pid as number) <= 0x7fffffff;
/**
 * Host and start time go into the refusal's message, which an operator reads in a terminal: none of
 * Unicode's "other" characters, so no control characters (escapes, newlines) and no format ones
 * either (a right-to-left override or a zero-width space would make the text read as another).
 */
const isPrintable = (value: unknown): value is string => typeof value === 'string' && /^\P{C}{1,255}$/u.test(value);

/**
 * The lock's holder; undefined if there is no lock. Anything but a regular file (a symbolic link, a
 * FIFO that would block the read, a directory) and anything malformed reads as unreadable, which is
 * refused with the path to delete: only a well-formed lock is ever judged stale.
 */
async function readHolder(file: string): Promise<LockRecord | undefined> {
  try {
    const parsed = JSON.parse(await readRegularFile(file, MAX_LOCK_BYTES)) as Partial<LockRecord>;
    if (isPid(parsed.pid) && isPrintable(parsed.host) && isPrintable(parsed.started_at)) {
      const { pid, host, started_at, boot, ticks } = parsed as LockRecord;
      // Boot and ticks are used only in the kernel's own forms; anything else reads as an older release's lock.
      return typeof boot === 'string' && BOOT_ID.test(boot) && typeof ticks === 'string' && TICKS.test(ticks)
        ? { pid, host, started_at, boot, ticks }
        : { pid, host, started_at };
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  }
  return UNREADABLE;
}

/** Far more than any lock the library writes (about 200 bytes); a larger file is not a lock. */
const MAX_LOCK_BYTES = 4096;

/** Written whole under a temporary name, then linked into place: link fails if the lock exists, so nobody reads half a file. */
async function tryCreate(file: string, holder: LockRecord): Promise<boolean> {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(temp, JSON.stringify(holder));
  try {
    await link(temp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

function lockedError(dir: string, file: string, { pid, host, started_at }: LockRecord): DatabaseLockedError {
  const holder: LockHolder = { pid, host, started_at };
  if (holder.pid === 0) {
    return new DatabaseLockedError(
      `the embedded database ${dir} has a lock file that cannot be read; if no process is using the database, delete ${file}`,
      holder,
    );
  }
  const who =
    holder.pid === process.pid && holder.host === hostname() && holder.started_at === PROCESS_STARTED_AT
      ? 'this process (another AuthManager, not yet closed)'
      : `process ${holder.pid} on ${holder.host}`;
  return new DatabaseLockedError(
    `the embedded database ${dir} is in use by ${who}, since ${holder.started_at}; PGlite allows one process at a time: ` +
      `stop it first (or use PostgreSQL for several processes). If that process is gone, delete ${file}`,
    holder,
  );
}

/**
 * Whether a lock written on this host is left by a process that no longer runs. With the boot and
 * start ticks recorded (a lock written on Linux): a lock from an earlier boot, or one whose pid now
 * belongs to a process that started at another tick, is stale. Without them (an older release's
 * lock), a pid that runs at all is taken as the holder, and our own pid as ours only with our start time.
 */
function isStale(holder: LockRecord, mine: LockRecord): boolean {
  if (holder.pid <= 0) return false;
  if (holder.boot !== undefined && holder.ticks !== undefined && mine.boot !== undefined && mine.ticks !== undefined) {
    if (holder.boot !== mine.boot) return true;
    return startTicks(holder.pid) !== String(BigInt(holder.ticks));
  }
  // Our own pid with another start time is a previous process that had the same pid (pid 1 in a container).
  if (holder.pid === mine.pid) return holder.started_at !== mine.started_at;
  return !isAlive(holder.pid);
}

/** How many times a start tries to take a lock it found stale, or free, before it gives up. */
const RECOVERY_ATTEMPTS = 20;
/** A recovery guard older than this was left by a process that died within the few milliseconds a recovery takes. */
const GUARD_ABANDONED_MS = 10_000;

/**
 * Removes a stale lock, if it is still that holder's. Checking and removing are two steps, so two
 * processes recovering the same stale lock could otherwise interleave: the later one's removal
 * taking away the lock the earlier one had just taken, and both open the database. The check and
 * the removal run under a guard directory (mkdir is atomic: one process at a time); a process
 * that finds the guard taken waits and looks again, and then finds the new holder's lock.
 */
async function removeStale(dir: string, file: string, holder: LockRecord, lastAttempt: boolean): Promise<void> {
  const guard = `${file}.recovering`;
  try {
    await mkdir(guard);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const since = await lstat(guard).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    // Old, or still there when the attempts run out: either way the guard must go with the lock,
    // and the dead holder's message would name the lock alone, leaving the guard to refuse later.
    if (since > GUARD_ABANDONED_MS || lastAttempt) {
      throw new DatabaseLockedError(
        `the embedded database ${dir} has a recovery of its lock that another process began and did not finish; ` +
          `if no process is using the database, delete ${guard} and ${file}`,
        { ...UNREADABLE },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
    return;
  }
  try {
    const again = await readHolder(file);
    if (again?.pid === holder.pid && again.started_at === holder.started_at && again.ticks === holder.ticks) await unlink(file).catch(() => undefined);
  } finally {
    await rmdir(guard).catch(() => undefined);
  }
}

/**
 * Takes the one-writer lock of an on-disk PGlite directory; resolves with its release. The lock
 * names its holder (pid, host, start time). A lock left by a crashed process on this host (its pid
 * no longer runs, or runs another process) is recovered; one from another host cannot be checked,
 * so it is reported.
 */
export async function lockPGliteDirectory(dir: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, LOCK_FILE);
  const mine: LockRecord = { pid: process.pid, host: hostname(), started_at: PROCESS_STARTED_AT, boot: bootId(), ticks: startTicks('self') };
  // Bounded: a lock that keeps vanishing and coming back, or a recovery that stays busy, ends in a refusal, never a spin.
  for (let attempt = 0; ; attempt++) {
    if (await tryCreate(file, mine)) break;
    const holder = (await readHolder(file)) ?? (attempt < RECOVERY_ATTEMPTS ? undefined : UNREADABLE);
    if (holder === undefined) continue; // released between our attempt and the read
    const stale = holder.host === mine.host && isStale(holder, mine);
    if (!stale || attempt > RECOVERY_ATTEMPTS) throw lockedError(dir, file, holder);
    await removeStale(dir, file, holder, attempt === RECOVERY_ATTEMPTS);
  }
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    const holder = await readHolder(file);
    if (holder?.pid === mine.pid && holder.started_at === mine.started_at) await unlink(file).catch(() => undefined);
  };
}
