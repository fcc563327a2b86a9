// One cold start, in a process of its own (run by bench/cold-start.ts with plain node, no loader):
// imports the built package as an installed app would (the package's own name resolves to dist/
// through `exports`), then, unless only the import is measured, starts an AuthManager on
// BENCH_COLD.dbDsn and prints the milestones its debug lines mark, in ms, as one JSON line.
import { performance } from 'node:perf_hooks';

const config = JSON.parse(process.env.BENCH_COLD ?? '{}');

const t0 = performance.now();
const { AuthManager } = await import('express-authlib');
const imported = performance.now();
// CPU time of the whole process (Node's own start-up included): a busy machine inflates it far
// less than the wall clock, so it shows whether a change helped when other work competes.
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
if (config.importOnly) {
  console.log(JSON.stringify({ import_ms: imported - t0, cpu_ms: cpuMs() }));
  process.exit(0);
}

/** When each debug or info line arrived, by its message. */
const marks = {};
const mark = (_obj, msg) => {
  marks[msg ?? ''] ??= performance.now();
};
const logger = { debug: mark, info: mark, warn: mark, error: (obj, msg) => console.error(msg, JSON.stringify(obj)) };

const started = performance.now();
const auth = new AuthManager(null, {
  dbDsn: config.dbDsn,
  dbSchema: config.dbSchema ?? 'authlib',
  jwtSecret: 'cold-start-benchmark-secret-0123456789',
  logger,
});
await auth.ready;
const ready = performance.now();
const cpu = cpuMs();
const open = marks['express-authlib: database open'];
const current = marks['express-authlib: schema current'];
console.log(
  JSON.stringify({
    import_ms: imported - t0,
    open_ms: open - started,
    migrate_ms: current - open,
    setup_ms: ready - current,
    ready_ms: ready - started,
    // From the start of the process: what `node app.js` waits for, Node's own start-up included.
    total_ms: ready,
    cpu_ms: cpu,
  }),
);
await auth.close();
