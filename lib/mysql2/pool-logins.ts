/**
 * How a pool logs a new connection in: with the coordinator's current credentials, through its
 * login gate (lockout-safe logins), and, when the server refuses them with 1045, with what the
 * coordinator finds instead (or the newest credentials known to work), up to
 * `rotation.maxAttempts` logins. An account refused whatever its password is reported, not
 * rotated. A login that worked asks its server who it is and whether it takes writes.
 *
 * @packageDocumentation
 */

import type { CredentialsSnapshot, RotationCoordinator } from '../coordinator.js';
import { poolConnectTraced, publishLoginRefused, tracePoolConnect } from '../diagnostics.js';
import { AccountUnavailableError, ClosedError } from '../errors.js';
import type { GenerationLedger } from '../generation-ledger.js';
import { UNGATED, type LoginTicket } from '../login-gate.js';
import { accountProblemOf, isAccessDenied } from './classify.js';
import { hideHandshakeSecrets, isMariaDBConnection, type Mysql2ConnectionConfig } from './internals.js';
import type { CredswapPoolConnection, Waiter } from './pool-connection.js';
import { checkServerRole, type ServerRole } from './server-identity.js';

/** The pool, as its logins see it. */
export interface LoginHost {
  readonly config: { readonly connectionConfig: Mysql2ConnectionConfig };
  readonly _closed: boolean;
  readonly coordinator: RotationCoordinator | undefined;
  /** Whether each login asks its server who it is and whether it takes writes (failover). */
  readonly _checksServers: boolean;
  /** A new connection with `snapshot`'s credentials, tracked by the pool, not connected yet. */
  _newConnection(snapshot: CredentialsSnapshot | undefined): CredswapPoolConnection;
  /** A connection from `_newConnection` that did not log in. */
  _forget(connection: CredswapPoolConnection): void;
  /** The login worked: the connection joins the pool and goes to `waiter`. */
  _loggedIn(
    waiter: Waiter,
    connection: CredswapPoolConnection,
    snapshot: CredentialsSnapshot | undefined,
    role: ServerRole | undefined,
  ): void;
  /** No connection for `waiter`: its slot is given up and it gets `error`. */
  _loginFailed(waiter: Waiter, error: Error): void;
}

/** The logins of one pool. */
export class PoolLogins {
  readonly #host: LoginHost;
  readonly #generations: GenerationLedger;
  readonly #maxAttempts: number;

  constructor(host: LoginHost, generations: GenerationLedger, maxAttempts: number) {
    this.#host = host;
    this.#generations = generations;
    this.#maxAttempts = maxAttempts;
  }

  /** Opens a connection for `waiter` in a slot the pool has already counted. */
  open(waiter: Waiter): void {
    // Traced as mysql2 traces its pool's connects, for instrumentation that listens to mysql2.
    if (poolConnectTraced()) tracePoolConnect(this.#host.config.connectionConfig, waiter.cb, (cb) => this.#open({ ...waiter, cb }));
    else this.#open(waiter);
  }

  #open(waiter: Waiter): void {
    const coordinator = this.#host.coordinator;
    if (!coordinator) {
      this.#connect(waiter, undefined);
      return;
    }
    const snapshot = coordinator.current;
    if (snapshot) {
      this.#connect(waiter, snapshot);
      return;
    }
    coordinator.acquire().then(
      (first) => this.#connect(waiter, first),
      (error: Error) => this.#host._loginFailed(waiter, error),
    );
  }

  /** Logs in with `snapshot`'s credentials once the coordinator's login gate lets it. */
  #connect(waiter: Waiter, snapshot: CredentialsSnapshot | undefined): void {
    const host = this.#host;
    if (host._closed) {
      host._loginFailed(waiter, new ClosedError('the pool'));
      return;
    }
    if (!snapshot || !host.coordinator) {
      this.#login(waiter, snapshot, UNGATED);
      return;
    }
    host.coordinator.logins.enter(snapshot.generation).then(
      (ticket) => this.#login(waiter, snapshot, ticket),
      // These credentials were refused a moment ago: a copy of that refusal, and no login.
      (refusal: Error) =>
        host._closed ? host._loginFailed(waiter, new ClosedError('the pool')) : this.#refused(waiter, snapshot.generation, refusal),
    );
  }

  #login(waiter: Waiter, snapshot: CredentialsSnapshot | undefined, ticket: LoginTicket): void {
    const host = this.#host;
    if (host._closed) {
      ticket.failed();
      host._loginFailed(waiter, new ClosedError('the pool'));
      return;
    }
    const connection = host._newConnection(snapshot);
    // end() came first: whatever the connect did, the caller learns that the pool is closed.
    const abandon = (error: Error) => {
      host._forget(connection);
      connection.destroy();
      host._loginFailed(waiter, error);
    };
    connection.connect((err) => {
      hideHandshakeSecrets(connection);
      if (host._closed) {
        ticket.failed();
        abandon(new ClosedError('the pool'));
        return;
      }
      if (!err) {
        ticket.succeeded();
        if (!host._checksServers) {
          host._loggedIn(waiter, connection, snapshot, undefined);
          return;
        }
        checkServerRole(connection, (lost, role) => {
          if (host._closed) abandon(new ClosedError('the pool'));
          else if (lost) abandon(lost);
          else host._loggedIn(waiter, connection, snapshot, role);
        });
        return;
      }
      if (isAccessDenied(err)) ticket.refused(err);
      else ticket.failed();
      host._forget(connection);
      const problem = accountProblemOf(err, isMariaDBConnection(connection));
      if (problem !== undefined || isAccessDenied(err)) publishLoginRefused(connection, snapshot?.generation ?? 0, err, problem);
      if (problem !== undefined) {
        // Locked or expired whatever the password: not a rotation.
        host._loginFailed(waiter, new AccountUnavailableError(String(connection.config.user), problem, err));
        return;
      }
      this.#refused(waiter, snapshot?.generation ?? 0, err);
    });
  }

  /** After a failed login: another try with better credentials when there are any, else the error. */
  #refused(waiter: Waiter, generation: number, err: Error): void {
    const host = this.#host;
    const coordinator = host.coordinator;
    if (!coordinator || !isAccessDenied(err) || waiter.attempt >= this.#maxAttempts || host._closed) {
      host._loginFailed(waiter, err);
      return;
    }
    // The slot stays held while the coordinator finds credentials that work.
    coordinator.reportRejected(generation, err).then(
      (snapshot) => {
        waiter.attempt += 1;
        this.#connect(waiter, snapshot);
      },
      (error: Error) => {
        // Nothing newer to try: fall back to the newest credentials a login has worked with
        // (the server may not have caught up with a pushed or refreshed secret yet).
        const fallback = this.#generations.fallbackFor(generation);
        if (fallback && !host._closed && !(error instanceof ClosedError)) {
          waiter.attempt += 1;
          this.#connect(waiter, fallback);
          return;
        }
        host._loginFailed(waiter, error);
      },
    );
  }
}
