// The PostgreSQL the side-by-side benchmarks measure: BENCH_DSN, or the local default.
import pg from 'pg';

export const BENCH_PG_DSN = process.env.BENCH_DSN ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Whether PostgreSQL answers; the benchmarks then measure PGlite alone. */
export async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: BENCH_PG_DSN, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

/** A connection for seeding; without PostgreSQL the benchmark says so and ends (exit 0). */
export async function connectOrSkip(benchmark: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: BENCH_PG_DSN });
  try {
    await client.connect();
    return client;
  } catch {
    console.log(`${benchmark} benchmark: PostgreSQL at BENCH_DSN not reachable, skipped`);
    process.exit(0);
  }
}
