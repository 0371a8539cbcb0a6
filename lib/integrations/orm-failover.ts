/**
 * The failover side of a pool an ORM owns (Sequelize's, Knex's), on the episode logic of
 * credswap's own pool (`lib/mysql2/failover.ts`): each login asks its server who it is and
 * whether it takes writes; a connection to a server the address no longer leads to is dropped
 * when next handed out or released; a write refused as read-only starts an episode, during which
 * refused connections are kept (they serve reads), one probe login at a time looks for a
 * writable server, and acquisitions wait (up to `failover.waitMs`) for it.
 *
 * What an ORM pool cannot do that credswap's can: adopt a connection it did not open (a probe's
 * connection is closed, not kept), close its idle connections at once when the address moves
 * (they are dropped when next handed out), or run a refused statement again (the ORM owns it).
 *
 * @packageDocumentation
 */

import { InvalidOptionError, ReadOnlyError } from '../errors.js';
import { duration, expectObject, rejectUnknownKeys } from '../options.js';
import { isReadOnlyTransactionError } from '../mysql2/classify.js';
import { DEFAULT_FAILOVER, Failover, type FailoverEvent, type FailoverHost, type FailoverOptions } from '../mysql2/failover.js';
import { checkServerRole, type ServerRole } from '../mysql2/server-identity.js';

const FAILOVER_KEYS: ReadonlySet<string> = new Set(['waitMs', 'probeIntervalMs']);

/**
 * The `failover` option of `attachCredentials` and `knexConnection`: `waitMs` and
 * `probeIntervalMs`, as for `createPool` (defaults 5000 and 40).
 */
export type OrmFailoverOptions = Pick<FailoverOptions, 'waitMs' | 'probeIntervalMs'>;

/**
 * The `failover` option of an ORM integration, as `createPool` takes it except for
 * `checkIntervalMs` (the ORM's pool decides when to log in): `undefined` for no episodes
 * (`failover: false`, or `rejectReadOnly: false`).
 *
 * @throws InvalidOptionError naming `failover` (set with `rejectReadOnly: false`) or an invalid `failover.*` key.
 */
export function resolveFailover(bag: Record<string, unknown>, rejectReadOnly: boolean): Required<FailoverOptions> | undefined {
  const value = bag.failover;
  if (value !== undefined && !rejectReadOnly) throw new InvalidOptionError('failover', "has no effect with 'rejectReadOnly: false'");
  if (!rejectReadOnly || value === false) return undefined;
  if (value === undefined) return DEFAULT_FAILOVER;
  const options = expectObject(value, 'failover')!;
  rejectUnknownKeys(options, FAILOVER_KEYS, 'failover.');
  return {
    ...DEFAULT_FAILOVER,
    waitMs: duration(options, 'waitMs', 'failover.', DEFAULT_FAILOVER.waitMs),
    probeIntervalMs: duration(options, 'probeIntervalMs', 'failover.', DEFAULT_FAILOVER.probeIntervalMs, 1),
  };
}

/** Where a connection logged in: the server's number (0: unknown) and whether it took writes then. */
export interface ServerTag {
  readonly server: number;
  readonly writable: boolean;
}

/** A probe login's connection, already reported through {@link OrmFailover.loggedIn}. */
export interface ProbeConnection {
  readonly tag: ServerTag;
  /** Closes it (an ORM pool cannot take in a connection it did not open). */
  close(): void;
}

/** What the integration does for its failover side. */
export interface OrmFailoverHost {
  readonly closed: boolean;
  /**
   * One login, ahead of anything waiting for a writable server, that reports its server through
   * {@link OrmFailover.loggedIn} before it resolves.
   */
  probe(): Promise<ProbeConnection>;
  /** The pool's `failover` events, when the integration has events. */
  episode?(event: FailoverEvent): void;
}

/** The failover side of one ORM pool (with `rejectReadOnly` and `failover` on). */
export class OrmFailover implements FailoverHost {
  readonly #host: OrmFailoverHost;
  readonly #failover: Failover;
  readonly #waitMs: number;

  constructor(host: OrmFailoverHost, options: Required<FailoverOptions>) {
    this.#host = host;
    this.#failover = new Failover(this, options);
    this.#waitMs = options.waitMs;
  }

  /** True while a failover episode is under way. */
  get active(): boolean {
    return this.#failover.active;
  }

  /**
   * Asks the server behind a new connection who it is and whether it takes writes, and reports
   * it (which may end an episode). Resolves with the connection's tag; rejects when the
   * connection is lost meanwhile.
   */
  check(connection: object): Promise<ServerTag> {
    return new Promise((resolve, reject) => {
      checkServerRole(connection, (lost, role) => (lost ? reject(lost) : resolve(this.loggedIn(role))));
    });
  }

  /** A login reached the server `role` describes (`undefined`: it would not say). */
  loggedIn(role: ServerRole | undefined): ServerTag {
    return { server: this.#failover.loggedIn(role), writable: role?.writable ?? true };
  }

  /** True for a connection to a server the address no longer leads to: it is not to be used again. */
  onOtherServer(tag: ServerTag | undefined): boolean {
    return tag !== undefined && tag.server !== 0 && tag.server !== this.#failover.server;
  }

  /**
   * A statement on a connection tagged `tag` was refused as read-only with `error`. A read-only
   * transaction's 1792 says nothing about the server: the connection is dropped (`discard`) and
   * the error stays the server's. Otherwise the refusal starts (or continues) an episode, the
   * connection is kept, and the caller gets a {@link ReadOnlyError}.
   */
  refused(tag: ServerTag | undefined, error: Error): { discard: boolean; error: Error } {
    if (isReadOnlyTransactionError(error)) return { discard: true, error };
    this.#failover.refused(tag?.server ?? 0);
    return { discard: false, error: new ReadOnlyError(error) };
  }

  /**
   * Resolves once no episode is under way, or after `failover.waitMs` (then whatever connection
   * comes next is handed out, as credswap's pool does). Never rejects.
   */
  whenWritable(): Promise<void> {
    if (!this.#failover.active) return Promise.resolve();
    return new Promise((resolve) => this.#failover.whenWritable(resolve, resolve));
  }

  /** How long {@link whenWritable} waits at most. */
  get waitMs(): number {
    return this.#waitMs;
  }

  /** The pool ends: waits resume, probes stop. */
  close(): void {
    this.#failover.close();
  }

  /** Part of the episode's host interface. */
  get _closed(): boolean {
    return this.#host.closed;
  }

  /** Part of the episode's host interface: a probe login for the episode, whose connection is closed once its server is known. */
  _probe(cb: Parameters<FailoverHost['_probe']>[0]): void {
    this.#host.probe().then(
      (probe) => {
        const writable = probe.tag.writable && !this.onOtherServer(probe.tag);
        cb(null, { writable, keep: () => probe.close(), close: () => probe.close() });
      },
      (error: Error) => cb(error),
    );
  }

  /** Part of the episode's host interface: connections to other servers are dropped when next handed out or released. */
  _serverMoved(): void {}

  /** Part of the episode's host interface. */
  _episode(event: FailoverEvent): void {
    this.#host.episode?.(event);
  }
}
