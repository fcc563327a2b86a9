import type { PGlite } from '@electric-sql/pglite';
import type { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';

/** The embedded database's package: an optional peer dependency, installed by the apps that use it. */
export const PGLITE_PACKAGE = '@electric-sql/pglite';

/**
 * An optional package that the configuration needs is not installed: a set-up mistake, so a
 * TypeError (as misuse is), whose message names the command that fixes it.
 */
export class MissingPackageError extends TypeError {
  /** The package to install. */
  readonly packageName: string;
  constructor(packageName: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MissingPackageError';
    this.packageName = packageName;
  }
}

/** What the library uses of the package: the class and the trigram extension (sql/0008_admin.sql). */
export interface PGliteModule {
  PGlite: typeof PGlite;
  pg_trgm: typeof pg_trgm;
}

let loading: Promise<PGliteModule> | undefined;

const notFound = (err: unknown) => {
  const code = (err as { code?: unknown })?.code;
  return (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') && String((err as Error).message).includes(PGLITE_PACKAGE);
};

/**
 * Loads PGlite on first use: an app on PostgreSQL never installs or loads the WebAssembly build
 * (27 MB). Imported as the app would import it, so the app, its tests and the library share one
 * copy (and one compiled WebAssembly module). `purpose` and `install` complete the message when
 * the package is missing, e.g. "pglite://memory needs" and "npm install @electric-sql/pglite".
 */
export function loadPGlite(purpose: string, install = `npm install ${PGLITE_PACKAGE}`): Promise<PGliteModule> {
  loading ??= importPGlite();
  return loading.catch((err: unknown) => {
    loading = undefined; // installed meanwhile: the next start tries again
    throw asMissingPackage(err, purpose, install);
  });
}

/** The package's import, each time anew (loadPGlite keeps one per thread). */
export async function importPGlite(): Promise<PGliteModule> {
  const [main, trgm] = await Promise.all([import('@electric-sql/pglite'), import('@electric-sql/pglite/contrib/pg_trgm')]);
  return { PGlite: main.PGlite, pg_trgm: trgm.pg_trgm };
}

/**
 * `err` as a MissingPackageError when it says the package is not installed (from this thread's
 * import, or the embedded database's thread's); otherwise `err` itself.
 */
export function asMissingPackage(err: unknown, purpose: string, install = `npm install ${PGLITE_PACKAGE}`): unknown {
  if (!notFound(err)) return err;
  return new MissingPackageError(
    PGLITE_PACKAGE,
    `express-authlib: ${purpose} the embedded database ${PGLITE_PACKAGE}, an optional dependency that is not installed; install it with \`${install}\``,
    { cause: err },
  );
}
