/**
 * What credswap tells `node:diagnostics_channel`: the channels' names, their messages, and the
 * helpers that publish them. This file is the one place channels are defined; the coordinator
 * and the pool call its helpers where things happen.
 *
 * Every message is plain data that is safe to log whole: no credentials, no password, no
 * connection objects. The only exception is mysql2's own `mysql2:pool:connect` channel, whose
 * context mysql2 defines (its `result` is the connection, as in mysql2). With nobody subscribed,
 * a helper costs a `hasSubscribers` check, and none of them runs on `pool.query` with an idle
 * connection at hand.
 *
 * @packageDocumentation
 */

import * as dc from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import type { CredentialsSnapshot, RotateEvent, RotationErrorReason } from './coordinator-options.js';
import type { AccountProblem } from './mysql2/classify.js';
import type { FailoverEvent } from './mysql2/failover.js';
import type { FetchReason } from './provider.js';

/**
 * The names of credswap's channels. `provider` names a `TracingChannel`: subscribe to
 * `tracing:credswap:provider:start`, `…:end`, `…:asyncStart`, `…:asyncEnd` and `…:error`, or
 * with `diagnostics_channel.tracingChannel('credswap:provider').subscribe({...})`.
 *
 * @example
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel';
 * import { DIAGNOSTICS_CHANNELS, type RotationMessage } from 'credswap';
 * subscribe(DIAGNOSTICS_CHANNELS.rotation, (m) => {
 *   const r = m as RotationMessage;
 *   log.info({ generation: r.generation, reason: r.reason, fingerprint: r.fingerprint }, 'credentials rotated');
 * });
 * ```
 */
export const DIAGNOSTICS_CHANNELS = Object.freeze({
  /** A new generation of credentials is in use: {@link RotationMessage}. */
  rotation: 'credswap:rotation',
  /** What a `rotation-error` event reports: {@link RotationErrorMessage}. */
  rotationError: 'credswap:rotation:error',
  /** A `TracingChannel`: one provider call, from its start until it settles: {@link ProviderCallContext}. */
  provider: 'credswap:provider',
  /** The server refused a pool's login: {@link LoginRefusedMessage}. */
  loginRefused: 'credswap:login:refused',
  /** A pool's connection logged in and joined the pool: {@link ConnectionMessage}. */
  connectionOpen: 'credswap:connection:open',
  /** A pool discards a connection: {@link ConnectionDiscardMessage}. */
  connectionDiscard: 'credswap:connection:discard',
  /** A pool's connection is gone (discarded, dropped by the server, or the pool ended): {@link ConnectionMessage}. */
  connectionClose: 'credswap:connection:close',
  /** A login with newer credentials worked: older connections drain: {@link DrainMessage}. */
  drain: 'credswap:drain',
  /** A pool's failover episode started or ended: {@link FailoverMessage}. */
  failover: 'credswap:failover',
} as const);

/**
 * mysql2's own tracing channel around getting a pooled connection. A credswap pool publishes it
 * around each connection it opens (not around handing out an idle one), with mysql2's context
 * ({@link Mysql2PoolConnectContext}), so instrumentation that listens to mysql2 sees its logins.
 */
export const MYSQL2_POOL_CONNECT_CHANNEL = 'mysql2:pool:connect';

/** Message of `credswap:rotation`: the `rotate` event, and how long the provider call took. */
export interface RotationMessage extends RotateEvent {
  /** Milliseconds from the provider call's start to its answer; absent for a `push`. */
  readonly durationMs?: number;
}

/** Message of `credswap:rotation:error`: what a `rotation-error` event reports. */
export interface RotationErrorMessage {
  readonly reason: RotationErrorReason;
  /** The provider's name. */
  readonly provider: string;
  /** The error (credswap's errors name the provider, the secret id or the file, never a secret). */
  readonly error: Error;
  /** `error.code` when it has one (`CREDSWAP_ROTATION_TIMEOUT`, …). */
  readonly code?: string;
}

/**
 * How a provider call ended. `rotated`: new credentials, a new generation; `unchanged`: the same
 * credentials (or none); `failed`: the provider threw or returned invalid credentials; `timeout`:
 * `rotation.timeoutMs` passed; `closed`: the coordinator closed; `superseded`: a pushed update won.
 */
export type ProviderCallOutcome = 'rotated' | 'unchanged' | 'failed' | 'timeout' | 'closed' | 'superseded';

/**
 * Context of the `credswap:provider` tracing channel. `start` and `end` surround the synchronous
 * part of the call (the provider's own work runs with the stores bound at `start`); `error` (a
 * failure), `asyncStart` and `asyncEnd` follow when it settles, with the last four fields set.
 */
export interface ProviderCallContext {
  /** The provider's name. */
  readonly provider: string;
  readonly reason: FetchReason;
  /** The generation when the call started. */
  readonly generation: number;
  outcome?: ProviderCallOutcome;
  durationMs?: number;
  /** The generation the call's credentials started (with `outcome: 'rotated'`). */
  newGeneration?: number;
  error?: Error;
}

/** Message of `credswap:login:refused`. */
export interface LoginRefusedMessage {
  /** The generation of the credentials refused (0 without a provider). */
  readonly generation: number;
  readonly user: string;
  readonly host?: string;
  readonly port?: number;
  /** The server's error number (1045, or an account problem's). */
  readonly errno?: number;
  /** The server's error code, e.g. `ER_ACCESS_DENIED_ERROR`. */
  readonly code?: string;
  /** Set when the server refuses the account whatever the password (not a rotation). */
  readonly problem?: AccountProblem;
}

/** Message of `credswap:connection:open` and `credswap:connection:close`. */
export interface ConnectionMessage {
  /** credswap's number for the connection, the same in all its messages; unique in the process. */
  readonly connectionId: number;
  /** The server's id of the connection (`CONNECTION_ID()`), when it has one. */
  readonly threadId: number | null;
  /** The generation of the credentials it logged in with (0 without a provider). */
  readonly generation: number;
  readonly host?: string;
  readonly port?: number;
}

/**
 * Message of `credswap:connection:discard`. `reason`: `stale`, `drain-timeout`, `failover`,
 * `failover-probe`, `read-only`, `lifetime`, `idle` or `make-room` (see the `discard` event).
 */
export interface ConnectionDiscardMessage extends ConnectionMessage {
  readonly reason: string;
}

/** Message of `credswap:drain`. */
export interface DrainMessage {
  /** The generation whose first login worked. */
  readonly generation: number;
  /** The pool's `rotation.drain`. */
  readonly mode: 'graceful' | 'force';
  /** Open connections of older generations: idle ones close now, busy ones when released (or after `drainTimeoutMs` with `force`). */
  readonly stale: number;
}

/** Message of `credswap:failover`: the pool's `failover` event. */
export type FailoverMessage = FailoverEvent;

/** Context of `mysql2:pool:connect`, as mysql2 defines it; `result` or `error` are set at the end. */
export interface Mysql2PoolConnectContext {
  database: string;
  serverAddress: string;
  serverPort: number | undefined;
  result?: unknown;
  error?: unknown;
}

const rotationChannel = dc.channel(DIAGNOSTICS_CHANNELS.rotation);
const rotationErrorChannel = dc.channel(DIAGNOSTICS_CHANNELS.rotationError);
const providerChannel = dc.tracingChannel<unknown, ProviderCallContext>(DIAGNOSTICS_CHANNELS.provider);
const loginRefusedChannel = dc.channel(DIAGNOSTICS_CHANNELS.loginRefused);
const openChannel = dc.channel(DIAGNOSTICS_CHANNELS.connectionOpen);
const discardChannel = dc.channel(DIAGNOSTICS_CHANNELS.connectionDiscard);
const closeChannel = dc.channel(DIAGNOSTICS_CHANNELS.connectionClose);
const drainChannel = dc.channel(DIAGNOSTICS_CHANNELS.drain);
const failoverChannel = dc.channel(DIAGNOSTICS_CHANNELS.failover);
const poolConnectChannel = dc.tracingChannel<unknown, Mysql2PoolConnectContext>(MYSQL2_POOL_CONNECT_CHANNEL);

/** Whether anyone listens to a tracing channel (`hasSubscribers` of the whole is Node 20.13+). */
function traced(channel: dc.TracingChannel<unknown, object>): boolean {
  return (
    channel.start.hasSubscribers ||
    channel.end.hasSubscribers ||
    channel.asyncStart.hasSubscribers ||
    channel.asyncEnd.hasSubscribers ||
    channel.error.hasSubscribers
  );
}

/** `error.code` when it is a string. */
function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * One provider call of the coordinator, as the channels see it: when it started, and (with
 * subscribers to `credswap:provider`) its trace. @internal
 */
export class ProviderCall {
  readonly startedAt = performance.now();
  readonly #context: ProviderCallContext | undefined;
  #rotatedTo: number | undefined;

  constructor(provider: string, reason: FetchReason, generation: number) {
    if (traced(providerChannel)) this.#context = { provider, reason, generation };
  }

  /** Runs the call's synchronous part between `start` and `end`, with the channel's stores bound. */
  run<T>(call: () => T): T {
    const context = this.#context;
    if (!context) return call();
    try {
      return providerChannel.start.runStores(context, call);
    } finally {
      providerChannel.end.publish(context);
    }
  }

  /** Publishes the end of the call when `settled` settles. */
  follow(settled: Promise<CredentialsSnapshot>): void {
    const context = this.#context;
    if (!context) return;
    const end = (outcome: ProviderCallOutcome, error?: Error) => {
      context.outcome = outcome;
      context.durationMs = performance.now() - this.startedAt;
      if (this.#rotatedTo !== undefined) context.newGeneration = this.#rotatedTo;
      if (error) {
        context.error = error;
        providerChannel.error.publish(context);
      }
      providerChannel.asyncStart.publish(context);
      providerChannel.asyncEnd.publish(context);
    };
    settled.then(
      (snapshot) => {
        if (this.#rotatedTo !== undefined) end('rotated');
        else end(snapshot.generation > context.generation ? 'superseded' : 'unchanged');
      },
      (error: Error) => {
        const code = codeOf(error);
        end(code === 'CREDSWAP_ROTATION_TIMEOUT' ? 'timeout' : code === 'CREDSWAP_CLOSED' ? 'closed' : 'failed', error);
      },
    );
  }

  /** @internal The call's credentials started `generation`. */
  rotated(generation: number): void {
    this.#rotatedTo = generation;
  }
}

/** Publishes `credswap:rotation` for `event`; `call`: the provider call it came from (none for a push). @internal */
export function publishRotation(event: RotateEvent, call: ProviderCall | undefined): void {
  call?.rotated(event.generation);
  if (!rotationChannel.hasSubscribers) return;
  const message: RotationMessage = call ? { ...event, durationMs: performance.now() - call.startedAt } : { ...event };
  rotationChannel.publish(message);
}

/** Publishes `credswap:rotation:error`. @internal */
export function publishRotationError(error: Error, reason: RotationErrorReason, provider: string): void {
  if (!rotationErrorChannel.hasSubscribers) return;
  const code = codeOf(error);
  const message: RotationErrorMessage = { reason, provider, error, ...(code !== undefined ? { code } : {}) };
  rotationErrorChannel.publish(message);
}

/** What the pool's messages read of a mysql2 connection. */
interface ConnectionLike {
  readonly threadId: number | null;
  readonly config: { readonly user?: string; readonly host?: string; readonly port?: number };
}

const connectionIds = new WeakMap<object, number>();
let lastConnectionId = 0;

function connectionMessage(connection: ConnectionLike, generation: number): ConnectionMessage {
  let connectionId = connectionIds.get(connection);
  if (connectionId === undefined) {
    connectionId = ++lastConnectionId;
    connectionIds.set(connection, connectionId);
  }
  const { host, port } = connection.config;
  return { connectionId, threadId: connection.threadId ?? null, generation, host, port };
}

/** Publishes `credswap:login:refused` for a login `error` the server answered with. @internal */
export function publishLoginRefused(
  connection: ConnectionLike,
  generation: number,
  error: Error,
  problem: AccountProblem | undefined,
): void {
  if (!loginRefusedChannel.hasSubscribers) return;
  const { user, host, port } = connection.config;
  const errno = (error as { errno?: unknown }).errno;
  const message: LoginRefusedMessage = {
    generation,
    user: String(user ?? ''),
    host,
    port,
    errno: typeof errno === 'number' ? errno : undefined,
    code: codeOf(error),
    ...(problem !== undefined ? { problem } : {}),
  };
  loginRefusedChannel.publish(message);
}

/** Publishes `credswap:connection:open`: `connection` logged in and joined its pool. @internal */
export function publishConnectionOpen(connection: ConnectionLike, generation: number): void {
  if (openChannel.hasSubscribers) openChannel.publish(connectionMessage(connection, generation));
}

/** Publishes `credswap:connection:discard`. @internal */
export function publishDiscard(connection: ConnectionLike, generation: number, reason: string): void {
  if (!discardChannel.hasSubscribers) return;
  const message: ConnectionDiscardMessage = { ...connectionMessage(connection, generation), reason };
  discardChannel.publish(message);
}

/** Publishes `credswap:connection:close`: an established connection left its pool. @internal */
export function publishConnectionClose(connection: ConnectionLike, generation: number): void {
  if (closeChannel.hasSubscribers) closeChannel.publish(connectionMessage(connection, generation));
}

/** Whether anyone listens to `credswap:drain` (the pool counts stale connections only then). @internal */
export function drainObserved(): boolean {
  return drainChannel.hasSubscribers;
}

/** Publishes `credswap:drain`. @internal */
export function publishDrain(message: DrainMessage): void {
  if (drainChannel.hasSubscribers) drainChannel.publish(message);
}

/** Publishes `credswap:failover`. @internal */
export function publishFailover(event: FailoverEvent): void {
  if (failoverChannel.hasSubscribers) failoverChannel.publish(event);
}

/** Whether anyone listens to `mysql2:pool:connect`. @internal */
export function poolConnectTraced(): boolean {
  return traced(poolConnectChannel);
}

/**
 * Runs `open(cb)` inside mysql2's `mysql2:pool:connect` trace, as mysql2's pool runs
 * `getConnection`: `cb` is wrapped so that the trace ends when it is called (with the
 * connection as `result`, or the `error`).
 * @internal
 */
export function tracePoolConnect<C extends (err: Error | null, connection?: never) => void>(
  config: { readonly host?: string; readonly port?: number; readonly socketPath?: string; readonly database?: string },
  cb: C,
  open: (cb: C) => void,
): void {
  const context: Mysql2PoolConnectContext = config.socketPath
    ? { database: config.database || '', serverAddress: config.socketPath, serverPort: undefined }
    : { database: config.database || '', serverAddress: config.host || 'localhost', serverPort: config.port || 3306 };
  poolConnectChannel.traceCallback(open, 0, context, undefined, cb);
}
