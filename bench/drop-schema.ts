import pg from 'pg';

/** Benchmarks on PostgreSQL leave nothing behind: their schema is dropped when they end. */
export async function dropBenchSchema(schema: string): Promise<void> {
  const dsn = process.env.BENCH_DSN;
  if (!dsn) return; // PGlite in memory disappears with the process
  const client = new pg.Client({ connectionString: dsn });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
