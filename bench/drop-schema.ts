/** Benchmarks on PostgreSQL leave nothing behind: their schema is dropped when they end. */
export async function dropBenchSchema(schema: string): Promise<void> {
  const dsn = process.env.BENCH_DSN;
  if (!dsn) return; // PGlite in memory disappears with the process
  // Imported here, not at the top: a bench server that never drops a schema (bare Express, the
  // peers) must not hold pg, nor what pg loads on Node 20 (Node's fetch implementation).
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: dsn });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
