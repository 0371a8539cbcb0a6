/**
 * Scenario `function`: the pool's credentials come from a hot-swap function that reads a
 * secret held in memory. Each rotation is a single-user rotation done in the recommended order:
 * the secret gets a new password first, then the server does (`ALTER USER`).
 *
 * @packageDocumentation
 */

import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { fromFunction } from '../../provider.js';
import { credswapTarget, plainPool } from './pools.js';
import { createDrillDatabase, openDrillServer } from './server.js';
import { TABLE_STATEMENTS, type Scenario, type ScenarioSettings } from './types.js';

/** Sets the `function` scenario up on a throwaway server, or on the server of `--mysql`. */
export async function setup(settings: ScenarioSettings): Promise<Scenario> {
  const server = await openDrillServer(settings.mysqlUrl);
  try {
    const db = await createDrillDatabase(server, 'function');
    const endpoint = { host: server.host, port: server.port, database: db.database };
    // The "secret" a service would read from its secret store.
    const secret = { user: db.user, password: db.password };
    let closed = false;
    return {
      name: 'function',
      embedded: server.embedded,
      kind: 'rotation',
      statements: TABLE_STATEMENTS,
      async createCredswapPool() {
        const provider = fromFunction(async () => ({ ...secret }), { name: 'drill-secret' });
        return credswapTarget(provider, endpoint, settings.concurrency);
      },
      async createPlainPool() {
        return plainPool({ ...secret }, endpoint, settings.concurrency);
      },
      async disrupt(index) {
        const startAt = performance.now();
        const password = randomBytes(18).toString('base64url');
        secret.password = password;
        await server.setPassword(db.user, password);
        settings.log(`rotation ${index + 1}: the secret and then the server have a new password for ${db.user}`);
        return { startAt, endAt: performance.now() };
      },
      async close() {
        if (closed) return;
        closed = true;
        await server.stop();
      },
    };
  } catch (error) {
    await server.stop().catch(() => {});
    throw error;
  }
}
