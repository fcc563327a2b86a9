/**
 * `express-authlib/testing`: helpers for a host app's own tests, framework-agnostic (vitest,
 * jest, node:test...). Not for production: the hasher is deliberately weak.
 */
export { createTestAuth, TestAuth } from './test-auth.js';
export type { GroupSpec, LoginSubject, TestApiToken, TestAuthOptions, TestLogin, UserSpec } from './test-auth.js';
export { TestClock } from './test-clock.js';
export { testHasher } from './test-hasher.js';
