/**
 * The emulator's administrator access to MariaDB/MySQL: one short-lived connection per task,
 * tasks run one at a time (Vault's MySQL plugin also holds a lock per operation). Errors never
 * carry the statement text or a password.
 *
 * @packageDocumentation
 */

import { createConnection, type Connection } from 'mysql2/promise';
import { ClosedError } from '../../errors.js';
import { redactText, sqlEscaped } from '../../redact.js';

/** Where and as whom to connect. */
export interface AdminAccess {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
}

/** Runs one statement; `?` placeholders are filled from `values` with client-side escaping. */
export type AdminQuery = <T = unknown>(sql: string, values?: unknown[]) => Promise<T>;

/**
 * An error from the database, with its `errno`, `code` and `sqlState` but without the statement
 * text, and with every secret of the task (as is, or escaped as in a statement the server
 * quotes) replaced by `[redacted]`, as Vault's error sanitizer replaces them.
 */
export class AdminQueryError extends Error {
  readonly errno: number | undefined;
  readonly code: string | undefined;
  readonly sqlState: string | undefined;

  constructor(error: unknown, secrets: readonly string[]) {
    const e = (error ?? {}) as { errno?: number; code?: string; sqlState?: string; sqlMessage?: string; message?: string };
    const text = redactText(e.sqlMessage ?? e.message ?? String(error), secrets, [sqlEscaped]);
    super(e.errno !== undefined ? `Error ${e.errno} (${e.sqlState ?? 'HY000'}): ${text}` : text);
    this.name = 'AdminQueryError';
    this.errno = e.errno;
    this.code = e.code;
    this.sqlState = e.sqlState;
  }
}

export class Admin {
  private chain: Promise<unknown> = Promise.resolve();
  private closing: Promise<void> | undefined;

  constructor(private readonly access: AdminAccess) {}

  /**
   * Runs `task` on a fresh admin connection once the tasks before it have finished, then closes
   * the connection. `secrets` are redacted from any error.
   */
  run<T>(task: (query: AdminQuery) => Promise<T>, secrets: readonly string[] = []): Promise<T> {
    if (this.closing !== undefined) return Promise.reject(new ClosedError('the Vault emulator'));
    const result = this.chain.then(() => this.runNow(task, secrets));
    this.chain = result.catch(() => undefined);
    return result;
  }

  /** Refuses new tasks and resolves once the queued ones have finished. */
  close(): Promise<void> {
    this.closing ??= this.chain.then(() => undefined);
    return this.closing;
  }

  private async runNow<T>(task: (query: AdminQuery) => Promise<T>, secrets: readonly string[]): Promise<T> {
    let connection: Connection;
    try {
      connection = await createConnection({
        host: this.access.host,
        port: this.access.port,
        user: this.access.user,
        password: this.access.password,
        connectTimeout: 10_000,
      });
    } catch (error) {
      throw new AdminQueryError(error, [...secrets, this.access.password]);
    }
    // An idle connection whose server goes away reports it as an 'error' event.
    connection.on('error', () => undefined);
    const query: AdminQuery = async <R>(sql: string, values?: unknown[]): Promise<R> => {
      try {
        const [rows] = await connection.query(sql, values);
        return rows as R;
      } catch (error) {
        throw new AdminQueryError(error, secrets);
      }
    };
    try {
      return await task(query);
    } finally {
      await connection.end().catch(() => connection.destroy());
    }
  }
}
