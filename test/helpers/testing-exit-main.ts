/**
 * A process that uses express-authlib/testing as a host app's test would and closes the instance,
 * run by testing-helpers.test.ts (`node --import tsx`). It must then exit by itself.
 */
import { createTestAuth } from '../../src/testing/index.js';

const auth = await createTestAuth(null);
const other = await createTestAuth(null);
await auth.loginAs({ roles: ['admin'], password: 'correct horse battery staple' });
await other.apiTokenFor({}, { scopes: ['reports:read'] });
await auth.reset();
await Promise.all([auth.close(), other.close()]);
console.log('closed');
