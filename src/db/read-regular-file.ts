import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';

/** Opening a FIFO for reading without O_NONBLOCK waits for a writer; O_NOFOLLOW refuses a link. Absent on Windows. */
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOFOLLOW ?? 0);

/**
 * The text of a file the library wrote into a directory others may write too (a database's lock, a
 * staging directory's list), at most `maxBytes`. Judged on the file actually opened (its handle's
 * stat), so that one swapped for a FIFO, a device or a link after its path was checked is never
 * read, and never read whole when it is larger than the library writes. The path's own check stays
 * for systems without O_NOFOLLOW. Rejects for anything else: callers treat that as unreadable.
 */
export async function readRegularFile(file: string, maxBytes: number): Promise<string> {
  if (!(await lstat(file)).isFile()) throw new Error(`${file} is not a regular file`);
  const handle = await open(file, OPEN_FLAGS);
  try {
    const stat = await handle.stat();
    if (!stat.isFile() || stat.size > maxBytes) throw new Error(`${file} is not a regular file of at most ${maxBytes} bytes`);
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(maxBytes), 0, maxBytes, 0);
    return buffer.toString('utf8', 0, bytesRead);
  } finally {
    await handle.close();
  }
}
