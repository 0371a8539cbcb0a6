/**
 * How the drill builds its two pools: the credswap pool with a provider whose calls are
 * counted, and the plain mysql2 pool that a naive service would have, given credentials read
 * once at start.
 *
 * @packageDocumentation
 */

import { createPool as createPlainPool } from 'mysql2/promise';
import type { Credentials } from '../../credentials.js';
import type { CredentialsProvider } from '../../provider.js';
import { createPool, type PoolOptions } from '../../mysql2/promise.js';
import type { CredswapTarget, PlainPool } from './types.js';

/** Where the pools connect; credentials come from the provider (credswap) or are given once (mysql2). */
export interface Endpoint {
  host?: string;
  port?: number;
  database?: string;
}

/**
 * Pool size for `concurrency` workers: fewer connections than workers, as in a service whose
 * pool is smaller than its request concurrency, so that queries queue and connections are
 * reused.
 */
export function poolSize(concurrency: number): number {
  return Math.max(2, Math.ceil(concurrency / 2));
}

/** A provider that counts calls of `getCredentials` and otherwise is `provider`. */
export function countingProvider(provider: CredentialsProvider): { provider: CredentialsProvider; calls(): number } {
  let calls = 0;
  const counted: CredentialsProvider = {
    name: provider.name,
    getCredentials(signal, current, context) {
      calls += 1;
      return provider.getCredentials(signal, current, context);
    },
  };
  if (provider.subscribe) counted.subscribe = provider.subscribe.bind(provider);
  if (provider.retire) counted.retire = provider.retire.bind(provider);
  if (provider.close) counted.close = provider.close.bind(provider);
  return { provider: counted, calls: () => calls };
}

/**
 * The credswap pool of a drill: `provider` for credentials, the drill's rotation settings
 * (`rotation`) on top of the defaults.
 */
export function credswapTarget(
  provider: CredentialsProvider,
  endpoint: Endpoint,
  concurrency: number,
  rotation?: PoolOptions['rotation'],
): CredswapTarget {
  const counted = countingProvider(provider);
  const pool = createPool({
    ...endpoint,
    connectionLimit: poolSize(concurrency),
    credentials: counted.provider,
    ...(rotation !== undefined ? { rotation } : {}),
  });
  return { pool, providerCalls: counted.calls };
}

/** A plain mysql2 promise pool with fixed credentials, sized as the credswap pool. */
export function plainPool(credentials: Credentials, endpoint: Endpoint, concurrency: number): PlainPool {
  return createPlainPool({
    host: credentials.host ?? endpoint.host,
    port: credentials.port ?? endpoint.port,
    database: credentials.database ?? endpoint.database,
    user: credentials.user,
    password: credentials.password,
    connectionLimit: poolSize(concurrency),
  });
}

/**
 * Reads credentials once from a provider of its own, then closes it: what a service does that
 * reads its secret at start.
 */
export async function readOnce(provider: CredentialsProvider): Promise<Credentials> {
  try {
    const credentials = await provider.getCredentials(AbortSignal.timeout(15_000), undefined, { reason: 'initial' });
    if (credentials === undefined) throw new Error(`${provider.name} returned no credentials`);
    return credentials;
  } finally {
    await provider.close?.();
  }
}
