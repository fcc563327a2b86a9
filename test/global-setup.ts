import pg from 'pg';

// The test apps of a run lend schemas to one another (helpers/schema-pool.ts), so the last app of
// each worker leaves its schema behind. They are named under one prefix per run, and dropped here,
// after every worker has ended. (An in-memory PGlite ends with its worker.)
export function setup(): () => Promise<void> {
  const prefix = `tpool${process.pid}`;
  process.env.AUTHLIB_TEST_POOL_PREFIX = prefix;
  return async () => {
    const dsn = process.env.AUTHLIB_TEST_DSN;
    if (!dsn) return;
    const client = new pg.Client({ connectionString: dsn });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string }>('SELECT nspname AS name FROM pg_namespace WHERE starts_with(nspname, $1)', [`${prefix}_`]);
      for (const { name } of rows) await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
    } finally {
      await client.end();
    }
  };
}
