/**
 * A process that constructs an AuthManager and closes it before or during `ready`, run by
 * startup.test.ts (`node --import tsx`). It must then exit by itself: nothing left open.
 * Configuration: AUTHLIB_CLOSE_EARLY = JSON { dbDsn, dbSchema, delayMs }.
 */
import { AuthManager } from '../../src/index.js';

const { dbDsn, dbSchema, delayMs } = JSON.parse(process.env.AUTHLIB_CLOSE_EARLY ?? '{}') as { dbDsn: string; dbSchema: string; delayMs: number };
const auth = new AuthManager(null, { dbDsn, dbSchema, jwtSecret: 'e'.repeat(32), logger: false });
if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
await auth.close();
console.log('closed');
