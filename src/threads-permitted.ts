/**
 * Whether this process may start worker threads. Node's permission model
 * (`--experimental-permission` / `--permission`) refuses them unless `--allow-worker` is given, and
 * a refused `new Worker()` throws: the database and the password hasher then work on the app's
 * thread instead of failing.
 */
export function threadsPermitted(): boolean {
  const permission = (process as { permission?: { has(scope: string): boolean } }).permission;
  return permission?.has('worker') ?? true;
}
