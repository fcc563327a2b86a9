/** The subset of a pino-compatible logger the library calls. It never receives a password, token or secret. */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/** `logger: false`: says nothing. */
export const silentLogger: Logger = {
  info() {},
  warn() {},
  error() {},
  debug() {},
};

/** One line: the message, then the fields (never secrets: callers pass codes and messages only). */
function line(obj: object, msg: string | undefined): string {
  const fields = Object.keys(obj).length > 0 ? ` ${JSON.stringify(obj)}` : '';
  return `${msg ?? 'express-authlib'}${fields}`.replace(/[\r\n]+/g, ' ') + '\n';
}

/**
 * The default: info, warnings and errors, one line each, on stderr; debug says nothing. A start-up
 * failure or a misread proxy set-up must be visible without configuring anything, and so must a
 * start-up that takes seconds (the migrations line, then the ready line with its time).
 */
export const stderrLogger: Logger = {
  debug() {},
  info(obj, msg) {
    process.stderr.write(line(obj, msg));
  },
  warn(obj, msg) {
    process.stderr.write(line(obj, msg));
  },
  error(obj, msg) {
    process.stderr.write(line(obj, msg));
  },
};
