/**
 * The environment of `credswap drill vault-static --fleet N`: the drill's database and user (on
 * a throwaway server or the `--mysql` server) and the Vault emulator's database secrets engine
 * with a static role over that user. Each rotation is `database/rotate-role/<role>`, which
 * changes the password in place (`ALTER USER`): every worker's next login is refused, and its
 * provider reads the role again.
 *
 * @packageDocumentation
 */

import { performance } from 'node:perf_hooks';
import { describeCause } from '../../errors.js';
import { DrillTargetError } from '../errors.js';
import { startVaultEmulator, type VaultEmulator } from '../../testing/vault.js';
import { loadNodeVault } from '../../../providers/vault/client.js';
import { createDrillDatabase, openDrillServer, type DrillServer } from '../scenarios/server.js';
import { TABLE_STATEMENTS } from '../scenarios/types.js';
import type { FleetEnvironment, FleetSettings } from './environment.js';
import { vaultOperation } from './store-proxy.js';

/** The static role the fleet shares. */
export const FLEET_VAULT_ROLE = 'credswap-drill-fleet';

/** Sets the `vault-static` fleet environment up. */
export async function setupFleetVault(settings: FleetSettings): Promise<FleetEnvironment> {
  // Before any server or emulator starts: a missing node-vault must leave nothing running.
  const factory = await loadNodeVault('the vault-static fleet drill');
  const server: DrillServer = await openDrillServer(settings.mysqlUrl);
  let emulator: VaultEmulator | undefined;
  try {
    const db = await createDrillDatabase(server, 'fleet_vault');
    emulator = await startVaultEmulator({ server });
    const vault = emulator;
    const role = FLEET_VAULT_ROLE;
    await vault.configureStaticRole(role, { username: db.user, rotationPeriodS: 86_400 });
    const admin = factory({ endpoint: vault.endpoint, token: vault.rootToken, requestOptions: { timeout: 10_000 } });
    const target = `Vault ${vault.endpoint}`;
    let closing: Promise<void> | undefined;
    return {
      embedded: server.embedded,
      server,
      user: db.user,
      statements: TABLE_STATEMENTS,
      endpoint: { host: server.host, port: server.port, database: db.database },
      store: 'vault',
      storeUrl: vault.endpoint,
      operationOf: vaultOperation,
      storeCalls: () => ({ ...vault.calls }),
      providerSpec: (endpoint) => ({ kind: 'vault-static', role, vault: { endpoint, token: vault.rootToken } }),
      secrets: [vault.rootToken],
      async disrupt(index) {
        const startAt = performance.now();
        try {
          await admin.write(`database/rotate-role/${role}`, {});
        } catch (error) {
          throw new DrillTargetError(target, `rotate-role ${role} failed: ${describeCause(error)}`, { cause: error });
        }
        settings.log(`rotation ${index + 1}: Vault rotated the password of static role ${role}`);
        return { startAt, endAt: performance.now() };
      },
      close() {
        closing ??= (async () => {
          await vault.close();
          await server.stop();
        })();
        return closing;
      },
    };
  } catch (error) {
    await emulator?.close();
    await server.stop().catch(() => {});
    throw error;
  }
}
