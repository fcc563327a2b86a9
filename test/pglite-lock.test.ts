import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AuthManager, DatabaseLockedError } from '../src/index.js';
import { closedAfterEach } from './helpers/app.js';
import { TEST_DSN } from './helpers/database.js';

// One writer per embedded database: PGlite in two processes (or two AuthManagers) on one directory
// would both report ready and lose each other's writes, so the second opener is refused. Every
// test here opens embedded databases of its own, whatever the suite runs on: once, on the PGlite run.
const BIN = join(process.cwd(), 'bin', 'authlib.js');
const root = mkdtempSync(join(tmpdir(), 'authlib-lock-'));
const { track } = closedAfterEach();
let n = 0;

afterAll(() => rmSync(root, { recursive: true, force: true }));

function manager(dir: string): AuthManager {
  const auth = new AuthManager(null, { dbDsn: `pglite://${dir}`, jwtSecret: 'l'.repeat(32), bcryptRounds: 4, logger: false });
  track(() => auth.close());
  return auth;
}

const freshDir = () => join(root, `db${(n += 1)}`);
const lockFile = (dir: string) => join(dir, 'express-authlib.lock');
/** A process that runs until the test ends: a live pid that is not the holder's. */
function liveProcess(): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  track(async () => void child.kill());
  return child;
}

describe.skipIf(TEST_DSN)('the embedded database lock', () => {
  it('a second AuthManager on the same directory is refused, naming the holder; after close() it opens', async () => {
    const dir = freshDir();
    const first = manager(dir);
    await first.ready;
    const holder = JSON.parse(readFileSync(lockFile(dir), 'utf8'));
    expect(holder).toMatchObject({ pid: process.pid, host: hostname() });
    expect(typeof holder.started_at).toBe('string');

    const second = manager(dir);
    const err = await second.ready.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DatabaseLockedError);
    expect((err as DatabaseLockedError).code).toBe('database_locked');
    expect((err as Error).message).toMatch(/in use by this process/);
    await second.close();

    await first.close();
    expect(existsSync(lockFile(dir))).toBe(false);
    const third = manager(dir);
    await third.ready;
  }, 60_000);

  it('the CLI is refused while an app holds the database, with one line naming the process', async () => {
    const dir = freshDir();
    const app = manager(dir);
    await app.ready;
    const result = spawnSync(process.execPath, [BIN, 'db', 'status', '--dsn', `pglite://${dir}`], { encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(`authlib: the embedded database ${dir} is in use by process ${process.pid} on ${hostname()}`);
  }, 60_000);

  it('a stale lock left by a process that died is recovered', async () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    writeFileSync(lockFile(dir), JSON.stringify({ pid: dead, host: hostname(), started_at: '2026-01-01T00:00:00.000Z' }));
    const auth = manager(dir);
    await auth.ready;
    expect(JSON.parse(readFileSync(lockFile(dir), 'utf8')).pid).toBe(process.pid);
  }, 60_000);

  // On Linux the lock records which boot and which tick of it its holder started at, so a pid that a
  // later process took over (a container's pid 1, or pid reuse) does not keep the database locked,
  // and a live holder is still refused.
  const linux = process.platform === 'linux';
  const boot = linux ? readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() : '';
  const ticksOf = (pid: number) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  };
  /** A directory whose lock is stale (pid 1 did not start at tick 5) and whose recovery another process has begun. */
  const staleLockBeingRecovered = () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(lockFile(dir), JSON.stringify({ pid: 1, host: hostname(), started_at: 'x', boot, ticks: '5' }));
    mkdirSync(`${lockFile(dir)}.recovering`);
    return dir;
  };

  it.runIf(linux)(
    'a lock whose pid another live process now holds is recovered',
    async () => {
      const dir = freshDir();
      mkdirSync(dir, { recursive: true });
      const other = liveProcess();
      // The pid runs, but not the process that wrote the lock: it started at another tick.
      const ticks = String(Number(ticksOf(other.pid!)) - 1);
      writeFileSync(lockFile(dir), JSON.stringify({ pid: other.pid, host: hostname(), started_at: '2026-01-01T00:00:00.000Z', boot, ticks }));
      const auth = manager(dir);
      await auth.ready;
      expect(JSON.parse(readFileSync(lockFile(dir), 'utf8'))).toMatchObject({ pid: process.pid, boot, ticks: ticksOf(process.pid) });
    },
    60_000,
  );

  it.runIf(linux)(
    'a lock from an earlier boot of this host is recovered, whatever runs under its pid now',
    async () => {
      const dir = freshDir();
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        lockFile(dir),
        JSON.stringify({ pid: 1, host: hostname(), started_at: '2026-01-01T00:00:00.000Z', boot: '00000000-0000-4000-8000-000000000000', ticks: ticksOf(1) }),
      );
      const auth = manager(dir);
      await auth.ready;
      expect(JSON.parse(readFileSync(lockFile(dir), 'utf8')).pid).toBe(process.pid);
    },
    60_000,
  );

  it.runIf(linux)(
    'a live holder is refused: with its boot and start tick matching, with a lock of an older release (no ticks), and with ticks that are not strings',
    async () => {
      const other = liveProcess();
      const exact = { pid: other.pid, host: hostname(), started_at: '2026-01-01T00:00:00.000Z', boot, ticks: ticksOf(other.pid!) };
      const older = { pid: other.pid, host: hostname(), started_at: '2026-01-01T00:00:00.000Z' };
      // Boot and ticks that are not a pair of strings read as an older release's lock, not as stale.
      const odd = { ...older, boot: 7, ticks: { n: 1 } };
      for (const holder of [exact, older, odd]) {
        const dir = freshDir();
        mkdirSync(dir, { recursive: true });
        writeFileSync(lockFile(dir), JSON.stringify(holder));
        const auth = manager(dir);
        const err = await auth.ready.then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(DatabaseLockedError);
        // The error names the holder as the contract has it: pid, host, start time.
        expect((err as DatabaseLockedError).holder).toEqual(older);
        expect(readFileSync(lockFile(dir), 'utf8')).toBe(JSON.stringify(holder));
      }
    },
    60_000,
  );

  // The outside review: two processes recovering one stale lock could interleave (one's removal
  // taking the lock the other had just taken) and both open the database, the first one's writes
  // lost. A recovery now checks and removes under a guard that one process holds at a time.
  it.runIf(linux)(
    'a recovery under way elsewhere is waited for: its new holder is then refused to us, not removed',
    async () => {
      const dir = staleLockBeingRecovered();
      const other = liveProcess();
      const auth = manager(dir);
      const outcome = auth.ready.then(
        () => 'opened',
        (e: unknown) => e,
      );
      await new Promise((resolve) => setTimeout(resolve, 150));
      // The other recovery finishes: its process now holds the lock.
      const theirs = { pid: other.pid, host: hostname(), started_at: 'y', boot, ticks: ticksOf(other.pid!) };
      unlinkSync(lockFile(dir));
      writeFileSync(lockFile(dir), JSON.stringify(theirs));
      rmdirSync(`${lockFile(dir)}.recovering`);
      const err = await outcome;
      expect(err).toBeInstanceOf(DatabaseLockedError);
      expect((err as DatabaseLockedError).holder.pid).toBe(other.pid);
      expect(JSON.parse(readFileSync(lockFile(dir), 'utf8'))).toEqual(theirs);
    },
    60_000,
  );

  it.runIf(linux)(
    'a recovery guard left by a process that died is reported with both paths to delete: one left long ago at once, a recent one once the attempts run out',
    async () => {
      for (const age of [60_000, 0]) {
        const dir = staleLockBeingRecovered();
        const guard = `${lockFile(dir)}.recovering`;
        utimesSync(guard, new Date(Date.now() - age), new Date(Date.now() - age));
        const started = Date.now();
        const auth = manager(dir);
        // Naming the lock alone would leave the guard behind, to refuse the next recovery.
        await expect(auth.ready, `a guard ${age} ms old`).rejects.toThrow(`delete ${guard} and ${lockFile(dir)}`);
        expect(Date.now() - started).toBeLessThan(5_000);
        expect(existsSync(guard)).toBe(true);
      }
    },
    60_000,
  );

  it.runIf(linux)(
    "boot ids and ticks not in the kernel's own forms never make a live holder stale; ticks compare as numbers",
    async () => {
      const other = liveProcess();
      const base = { pid: other.pid, host: hostname(), started_at: 'x' };
      const ticks = ticksOf(other.pid!);
      for (const odd of [
        { boot, ticks: `0${ticks}` },
        { boot, ticks: '' },
        { boot, ticks: ` ${ticks}` },
        { boot, ticks: '1e3' },
        { boot: boot.toUpperCase(), ticks: '5' },
        { boot: `${boot}\n`, ticks: '5' },
        { boot: 'not-a-uuid', ticks: '5' },
        { boot: '', ticks: '5' },
      ]) {
        const dir = freshDir();
        mkdirSync(dir, { recursive: true });
        writeFileSync(lockFile(dir), JSON.stringify({ ...base, ...odd }));
        await expect(manager(dir).ready, JSON.stringify(odd)).rejects.toBeInstanceOf(DatabaseLockedError);
      }
    },
    60_000,
  );

  it.runIf(linux)(
    'a lock that is not a regular file, is too big to be a lock, has a pid no process can have, or an empty or unprintable host or start time (control or format characters), is refused at once as unreadable',
    async () => {
      const alive = liveProcess();
      const cases: Array<(file: string) => void> = [
        (file) => symlinkSync('/nonexistent/lock', file), // dangling: this spun for ever
        (file) => spawnSync('mkfifo', [file]), // a FIFO: the read blocked for ever
        (file) => writeFileSync(file, JSON.stringify({ pid: alive.pid! + 0.5, host: hostname(), started_at: 'x' })),
        // Far bigger than any lock the library writes: not read whole, whatever it holds.
        (file) => writeFileSync(file, JSON.stringify({ pid: alive.pid!, host: hostname(), started_at: 'x' }) + ' '.repeat(8192)),
        // No process can have these: kill() refused 2^31 and the lock was taken for a dead holder's
        // and removed; 0 and below name process groups.
        (file) => writeFileSync(file, JSON.stringify({ pid: 2 ** 31, host: hostname(), started_at: 'x' })),
        (file) => writeFileSync(file, JSON.stringify({ pid: -1, host: hostname(), started_at: 'x' })),
        // Host and start time are printed in the refusal: none empty, none with control characters.
        (file) => writeFileSync(file, JSON.stringify({ pid: alive.pid!, host: '', started_at: 'x' })),
        (file) => writeFileSync(file, JSON.stringify({ pid: alive.pid!, host: `${hostname()}\n\u001b[31mforged`, started_at: 'x' })),
        (file) => writeFileSync(file, JSON.stringify({ pid: alive.pid!, host: hostname(), started_at: 'x\u001b[2J' })),
        // Nor format characters: a right-to-left override makes the printed host read as another.
        (file) => writeFileSync(file, JSON.stringify({ pid: alive.pid!, host: `${hostname()}\u202egnp.exe`, started_at: 'x' })),
        (file) => writeFileSync(file, JSON.stringify({ pid: alive.pid!, host: hostname(), started_at: 'x\u200b' })),
      ];
      for (const make of cases) {
        const dir = freshDir();
        mkdirSync(dir, { recursive: true });
        make(lockFile(dir));
        const started = Date.now();
        await expect(manager(dir).ready).rejects.toThrow(`has a lock file that cannot be read; if no process is using the database, delete ${lockFile(dir)}`);
        expect(Date.now() - started).toBeLessThan(5_000);
      }
    },
    60_000,
  );

  it('a lock held from another host is not second-guessed: refused, with how to clear it', async () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(lockFile(dir), JSON.stringify({ pid: 4242, host: 'build-box-7', started_at: '2026-01-01T00:00:00.000Z' }));
    const auth = manager(dir);
    await expect(auth.ready).rejects.toThrow(`in use by process 4242 on build-box-7, since 2026-01-01T00:00:00.000Z`);
    await expect(auth.ready).rejects.toThrow(`delete ${lockFile(dir)}`);
  }, 60_000);

  it('an unreadable lock file is reported, not overwritten', async () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(lockFile(dir), 'garbage');
    const auth = manager(dir);
    await expect(auth.ready).rejects.toThrow(`has a lock file that cannot be read; if no process is using the database, delete ${lockFile(dir)}`);
    expect(readFileSync(lockFile(dir), 'utf8')).toBe('garbage');
  }, 60_000);

  it('pglite://memory is exempt: each in-memory database is private to its AuthManager', async () => {
    const a = new AuthManager(null, { dbDsn: 'pglite://memory', jwtSecret: 'l'.repeat(32), logger: false });
    const b = new AuthManager(null, { dbDsn: 'pglite://memory', jwtSecret: 'l'.repeat(32), logger: false });
    track(() => a.close());
    track(() => b.close());
    await Promise.all([a.ready, b.ready]);
  }, 60_000);
});
