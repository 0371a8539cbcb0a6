/**
 * What credswap relies on in Knex beyond its documented configuration, in one place;
 * test/integrations/knex-client.test.ts fails loudly when Knex changes any of it.
 *
 * - Knex calls the `connection` function, and the `expirationChecker` it returned, as methods
 *   of its Client (`this.connectionConfigProvider()`, `this.connectionConfigExpirationChecker()`
 *   in lib/client.js, Knex 0.95 to 3.3), so `this` is the Client.
 * - `client.pool` (public in Knex's types) is a tarn Pool, whose public `on(event, listener)`
 *   reports `createFail` with `(eventId, error)` when a new connection could not be opened, and
 *   `poolDestroySuccess` once `knex.destroy()` has closed every connection.
 * - The Client opens every connection with `client.acquireRawConnection()` (a method, looked up
 *   on the instance at each call), which creates the driver's connection from
 *   `client.connectionSettings` (the settings the `connection` function last returned) and
 *   resolves once it has logged in; `client.destroyRawConnection(connection)` closes one.
 * - tarn keeps the acquisitions waiting for a connection in `pool.pendingAcquires` (protected in
 *   its types), each with `reject(error)`: what tarn itself calls with `propagateCreateError`.
 *
 * Typed structurally: this file never loads Knex or tarn.
 */

/** The part of a tarn Pool credswap listens to. */
export interface TarnPoolEvents {
  on(event: 'createFail', listener: (eventId: number, error: unknown) => void): unknown;
  on(event: 'poolDestroySuccess', listener: (eventId: number) => void): unknown;
}

/**
 * The tarn pool of a Knex Client, when `thisArg` is one (see above); `undefined` otherwise, for
 * instance when the connection function was wrapped in another function.
 */
export function knexPoolOf(thisArg: unknown): TarnPoolEvents | undefined {
  if (typeof thisArg !== 'object' || thisArg === null) return undefined;
  const pool = (thisArg as { pool?: unknown }).pool;
  if (typeof pool !== 'object' || pool === null || typeof (pool as Partial<TarnPoolEvents>).on !== 'function') return undefined;
  return pool as TarnPoolEvents;
}

/** The part of a Knex Client through which it opens and closes connections. */
export interface KnexClientLogins {
  /** The settings the next connection is created from. */
  readonly connectionSettings: unknown;
  acquireRawConnection(): Promise<unknown>;
  destroyRawConnection(connection: unknown): Promise<unknown>;
}

/** `thisArg` as a Knex Client that opens connections as described above, or `undefined`. */
export function knexClientOf(thisArg: unknown): KnexClientLogins | undefined {
  if (typeof thisArg !== 'object' || thisArg === null) return undefined;
  const client = thisArg as Partial<KnexClientLogins>;
  if (typeof client.acquireRawConnection !== 'function' || typeof client.destroyRawConnection !== 'function') return undefined;
  return client as KnexClientLogins;
}

/**
 * Replaces the Client's `acquireRawConnection` on this one instance: every connection it opens
 * from now on goes through `login`, which receives the original (bound to the Client). Returns
 * the original.
 */
export function interceptLogins(
  client: KnexClientLogins,
  login: (original: () => Promise<unknown>) => Promise<unknown>,
): () => Promise<unknown> {
  const original = client.acquireRawConnection.bind(client);
  Object.defineProperty(client, 'acquireRawConnection', {
    value: () => login(original),
    writable: true,
    configurable: true,
    enumerable: false,
  });
  return original;
}

/** Fails every acquisition waiting for a connection in the Client's tarn pool with `error`. */
export function rejectPendingAcquires(client: unknown, error: Error): void {
  const pool = (client as { pool?: { pendingAcquires?: unknown } } | null)?.pool;
  const pending = pool?.pendingAcquires;
  if (!Array.isArray(pending)) return;
  for (const acquire of [...pending] as Array<{ reject?: (error: Error) => void }>) {
    if (typeof acquire?.reject === 'function') acquire.reject(error);
  }
}
