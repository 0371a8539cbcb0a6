/**
 * The errors of throwaway test servers: no binary to run, or a server (or its setup tool) that
 * did not start. Both are public, through `credswap/testing`.
 *
 * @packageDocumentation
 */

/**
 * How to get a server, for messages. It names MariaDB's binaries and package: MariaDB is what
 * throwaway servers run.
 */
export const INSTALL_HINT = 'install mariadb-server (Debian: apt-get install mariadb-server) or set MYSQL_URL';

/** No server binary could be found, or the one named does not exist or cannot be run. */
export class ServerNotFoundError extends Error {
  /** The binary that was asked for, when one was named. */
  readonly binary: string | undefined;

  /**
   * @param binary - the binary that was asked for; omit when none was found by searching
   * @param message - what a flavour other than MariaDB says instead of naming MariaDB's binaries
   */
  constructor(binary?: string, message?: string) {
    super(
      message ??
        (binary === undefined
          ? `no mariadbd or mysqld found on PATH; ${INSTALL_HINT}`
          : `the server binary ${JSON.stringify(binary)} does not exist or is not executable; ${INSTALL_HINT}`),
    );
    this.name = 'ServerNotFoundError';
    this.binary = binary;
  }
}

/** A throwaway server could not be set up, started or restarted. */
export class ServerStartError extends Error {
  /** The last lines of the server's error log (or of the setup tool's output), if any. */
  readonly logTail: string;

  /**
   * @param message - what failed
   * @param logTail - the last lines of the relevant log, appended to the message
   * @param options - the underlying error, if any, as `cause`
   */
  constructor(message: string, logTail = '', options?: { cause?: unknown }) {
    super(logTail === '' ? message : `${message}\n--- last lines of its log ---\n${logTail}`, options);
    this.name = 'ServerStartError';
    this.logTail = logTail;
  }
}

/** The server could not bind its port: another process took it. Starting on another port may work. */
export class PortInUseError extends ServerStartError {}

/** The last `count` lines of a log, for a {@link ServerStartError}. */
export function lastLines(text: string, count = 20): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}
