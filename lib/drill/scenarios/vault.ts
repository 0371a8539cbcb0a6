/**
 * What the two Vault scenarios share. Embedded: a database of the drill's own (on a throwaway
 * server or the `--mysql` server) and the Vault emulator's database secrets engine on it. With
 * `--vault-addr` and `--vault-role` (token from `VAULT_TOKEN`): the named role on that Vault,
 * with `--mysql` saying where to connect (its user and password are not used).
 *
 * - `vault-static`: a static role over the drill's user; each rotation is `rotate-role`, which
 *   changes the password in place (`ALTER USER`).
 * - `vault-dynamic`: a dynamic role whose leases end after a few seconds (embedded: `max_ttl`
 *   set from the drill's interval); each rotation is the pool moving to a new lease before the
 *   old one ends. Nothing triggers it: the drill waits for it.
 *
 * @packageDocumentation
 */

import { performance } from 'node:perf_hooks';
import { describeCause, InvalidOptionError } from '../../errors.js';
import { DrillTargetError } from '../errors.js';
import { startVaultEmulator, type VaultEmulator } from '../../testing/vault.js';
import { loadNodeVault } from '../../../providers/vault/client.js';
import type { VaultSdkClient } from '../../../providers/vault/options.js';
import { VaultDatabaseProvider, type VaultLeaseEvent } from '../../../providers/vault/database.js';
import { VaultStaticRoleProvider } from '../../../providers/vault/static-role.js';
import { credswapTarget, plainPool, readOnce, type Endpoint } from './pools.js';
import { createDrillDatabase, openDrillServer, parseAdminUrl, type DrillServer } from './server.js';
import { READ_ONLY_STATEMENTS, TABLE_STATEMENTS, type Scenario, type ScenarioName, type ScenarioSettings } from './types.js';

/**
 * Rotation settings of the drill's pool for leases of seconds (see docs/vault.md,
 * dynamic credentials): new credentials up to 2 s before the end, busy old connections closed after 250 ms.
 */
export const DRILL_SHORT_LEASE_ROTATION = { refreshBeforeExpiryMs: 2_000, drain: 'force', drainTimeoutMs: 250 } as const;

/** Extra time the drill waits for a lease rotation beyond the interval, before giving up. */
const LEASE_ROTATION_GRACE_MS = 15_000;

type Kind = 'dynamic' | 'static';

interface VaultSide {
  endpoint: string;
  token: string;
  role: string;
  /** Where to connect, and what the load may run. */
  db: Endpoint;
  owned: boolean;
  emulator?: VaultEmulator;
  server?: DrillServer;
}

/** The lease time of the embedded dynamic role: rotations roughly `intervalMs` apart. */
export function leaseTtlS(intervalMs: number): number {
  return Math.max(3, Math.ceil(intervalMs / 1000));
}

async function embeddedVault(name: ScenarioName, kind: Kind, settings: ScenarioSettings): Promise<VaultSide> {
  const server = await openDrillServer(settings.mysqlUrl);
  let emulator: VaultEmulator | undefined;
  try {
    const db = await createDrillDatabase(server, name.replace('-', '_'));
    emulator = await startVaultEmulator({ server });
    const role = 'credswap-drill';
    if (kind === 'static') {
      await emulator.configureStaticRole(role, { username: db.user, rotationPeriodS: 86_400 });
    } else {
      const ttl = leaseTtlS(settings.intervalMs);
      emulator.configureDatabaseRole(role, { dbName: db.database, defaultTtlS: ttl, maxTtlS: ttl });
    }
    return {
      endpoint: emulator.endpoint,
      token: emulator.rootToken,
      role,
      db: { host: server.host, port: server.port, database: db.database },
      owned: true,
      emulator,
      server,
    };
  } catch (error) {
    await emulator?.close();
    await server.stop().catch(() => {});
    throw error;
  }
}

function realVault(settings: ScenarioSettings): VaultSide {
  if (settings.vaultRole === undefined) throw new InvalidOptionError('--vault-role', 'is required with --vault-addr');
  if (settings.vaultToken === undefined || settings.vaultToken === '') {
    throw new InvalidOptionError('VAULT_TOKEN', 'must be set in the environment with --vault-addr');
  }
  if (settings.mysqlUrl === undefined) {
    throw new InvalidOptionError(
      '--mysql',
      "is required with --vault-addr: it names the server (host, port, database) the role's credentials are for",
    );
  }
  const access = parseAdminUrl(settings.mysqlUrl);
  const database = new URL(settings.mysqlUrl).pathname.replace(/^\//, '');
  return {
    endpoint: settings.vaultAddr!,
    token: settings.vaultToken,
    role: settings.vaultRole,
    db: { host: access.host, port: access.port, ...(database !== '' ? { database: decodeURIComponent(database) } : {}) },
    owned: false,
  };
}

/** Sets a Vault scenario up. */
export async function setupVault(name: ScenarioName, kind: Kind, settings: ScenarioSettings): Promise<Scenario> {
  const real = settings.vaultAddr !== undefined ? realVault(settings) : undefined;
  // Before any server or emulator starts: a missing node-vault must leave nothing running.
  const factory = await loadNodeVault(`the ${name} scenario`);
  const side = real ?? (await embeddedVault(name, kind, settings));
  const target = `Vault ${side.endpoint}`;
  const admin: VaultSdkClient = factory({ endpoint: side.endpoint, token: side.token, requestOptions: { timeout: 10_000 } });
  const plainLeases: string[] = [];
  const leaseEvents: Array<VaultLeaseEvent & { at: number }> = [];
  const waiters = new Set<() => void>();
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      for (const wake of waiters) wake();
      for (const lease of plainLeases) await admin.write('sys/leases/revoke', { lease_id: lease }).catch(() => {});
      await side.emulator?.close();
      await side.server?.stop();
    })());
  try {
    await admin.tokenLookupSelf();
  } catch (error) {
    await close();
    throw new DrillTargetError(target, `refused the token: ${describeCause(error)}`, { cause: error });
  }
  const vault = { endpoint: side.endpoint, auth: { token: side.token } };
  const path = kind === 'static' ? `database/static-creds/${side.role}` : `database/creds/${side.role}`;

  /** Waits for lease events until `done()` holds, or fails after `timeoutMs`. */
  const waitFor = (done: () => boolean, timeoutMs: number, what: string) =>
    new Promise<void>((resolve, reject) => {
      if (done()) return resolve();
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(
          new DrillTargetError(
            target,
            `${what} did not happen within ${Math.round(timeoutMs / 1000)} s (the role's max_ttl must be shorter than the drill's interval)`,
          ),
        );
      }, timeoutMs);
      timer.unref();
      const check = () => {
        if (!done() && closing === undefined) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
    });

  return {
    name,
    embedded: side.server?.embedded ?? false,
    kind: 'rotation',
    statements: side.owned ? TABLE_STATEMENTS : READ_ONLY_STATEMENTS,
    async createCredswapPool() {
      if (kind === 'static')
        return credswapTarget(new VaultStaticRoleProvider({ role: side.role, vault, refreshJitterMs: 200 }), side.db, settings.concurrency);
      const provider = new VaultDatabaseProvider({ role: side.role, vault });
      provider.on('lease', (event: VaultLeaseEvent) => {
        leaseEvents.push({ ...event, at: performance.now() });
        for (const wake of [...waiters]) wake();
      });
      return credswapTarget(provider, side.db, settings.concurrency, DRILL_SHORT_LEASE_ROTATION);
    },
    async createPlainPool() {
      if (kind === 'static') {
        return plainPool(await readOnce(new VaultStaticRoleProvider({ role: side.role, vault })), side.db, settings.concurrency);
      }
      // What a naive service does with dynamic credentials: read them once, never renew.
      let response: { lease_id: string; data: { username: string; password: string } };
      try {
        response = (await admin.read(path)) as typeof response;
      } catch (error) {
        throw new DrillTargetError(target, `cannot read ${path}: ${describeCause(error)}`, { cause: error });
      }
      plainLeases.push(response.lease_id);
      return plainPool({ user: response.data.username, password: response.data.password }, side.db, settings.concurrency);
    },
    async disrupt(index) {
      if (kind === 'static') {
        const startAt = performance.now();
        try {
          await admin.write(`database/rotate-role/${side.role}`, {});
        } catch (error) {
          throw new DrillTargetError(target, `rotate-role ${side.role} failed: ${describeCause(error)}`, { cause: error });
        }
        settings.log(`rotation ${index + 1}: Vault rotated the password of static role ${side.role}`);
        return { startAt, endAt: performance.now() };
      }
      // Lease n + 1 replaces lease n; the rotation ends when lease n is revoked or expires.
      const issued = () => leaseEvents.filter((e) => e.type === 'issued');
      const timeoutMs = settings.intervalMs * 2 + LEASE_ROTATION_GRACE_MS;
      await waitFor(() => issued().length >= index + 2, timeoutMs, `lease rotation ${index + 1}`);
      const [old, next] = [issued()[index], issued()[index + 1]];
      settings.log(`rotation ${index + 1}: new lease for ${next.user}; the lease of ${old.user} ends`);
      const ended = () => leaseEvents.find((e) => e.leaseId === old.leaseId && (e.type === 'revoked' || e.type === 'expired'));
      await waitFor(() => ended() !== undefined, timeoutMs, `the end of the lease of ${old.user}`);
      return { startAt: next.at, endAt: ended()?.at ?? performance.now() };
    },
    close,
  };
}
