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
