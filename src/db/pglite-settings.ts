/**
 * What the library's own embedded database runs with, as command-line settings: they take
 * precedence over postgresql.conf without rewriting it, so a directory keeps whatever its owner put
 * there. PostgreSQL's defaults are sized for a server of its own; inside an app's process:
 * - shared_buffers 16 MB, not 128 MB: the pages already sit in memory (pglite://memory) or in the
 *   operating system's cache (a directory), so a large buffer pool mostly holds a second copy
 *   (about 115 MB of resident memory saved, measured by bench/pglite-memory.ts);
 * - max_wal_size 64 MB, not 1 GB, and min_wal_size 32 MB: the least a cluster with 16 MB WAL
 *   segments accepts (two segments), which directories made before PGLITE_INITDB_ARGS have.
 * An app that wants other settings passes its own PGlite instance (`db`).
 */
const SHARED_BUFFERS = ['-c', 'shared_buffers=16MB'];
export const PGLITE_SETTINGS: readonly string[] = [...SHARED_BUFFERS, '-c', 'max_wal_size=64MB', '-c', 'min_wal_size=32MB'];

/**
 * In memory, WAL files are the process's own memory, and there is no disk for them to make a crash
 * safe: a checkpoint every 16 MB of WAL, and 2 MB of old segments kept for reuse, instead of up to
 * 64 and 32 MB. Valid because every in-memory database has 1 MB segments (PGLITE_INITDB_ARGS, and
 * the pre-built cluster made with them).
 */
export const PGLITE_MEMORY_SETTINGS: readonly string[] = [...SHARED_BUFFERS, '-c', 'max_wal_size=16MB', '-c', 'min_wal_size=2MB'];

/**
 * initdb's arguments for a new cluster, after PGlite's own: 1 MB WAL segments, not 16 MB. A new
 * cluster holds one segment from its start, and in memory it is the process's memory; the
 * pre-built cluster (scripts/pglite-template.mjs) is made with them too.
 */
export const PGLITE_INITDB_ARGS: readonly string[] = ['--wal-segsize=1'];
