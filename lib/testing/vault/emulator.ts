/**
 * The Vault emulator itself: {@link startVaultEmulator} and the {@link VaultEmulator} it
 * returns, which owns the emulator's lifecycle; requests are answered by its request handler,
 * setup helpers act on its state.
 *
 * @packageDocumentation
 */

import { inspect } from 'node:util';
import { ClosedError } from '../../errors.js';
import { Faults, type VaultFaults } from './faults.js';
import { listen, type VaultHttpServer } from './http.js';
import type { VaultLeaseInfo } from './leases.js';
import { resolveEmulatorOptions, type ResolvedEmulatorOptions, type VaultEmulatorOptions } from './options.js';
import { newToken } from './random.js';
import { RequestHandler, type VaultRequestRecord } from './requests.js';
import { configureAppRole, configureDatabaseRole, configureKubernetesRole, configureStaticRole, createToken, writeKv } from './setup.js';
import type {
  AppRoleOptions,
  CreateTokenOptions,
  DatabaseRoleOptions,
  KubernetesRoleOptions,
  StaticRoleOptions,
  WriteKvOptions,
} from './setup-options.js';
import { VaultState } from './state.js';
import { asError } from './tokens.js';

/**
 * A local HashiCorp Vault for tests and drills, spoken to over HTTP by any Vault client
 * (`node-vault`, the Vault CLI, Vault Agent). It serves, with Vault's shapes, status codes and
 * error texts (Vault 1.17):
 *
 * - `sys/health` (GET, HEAD; `activecode`, `sealedcode`), `sys/leases/renew`, `revoke`, `lookup`;
 * - `auth/token/lookup-self`, `renew-self`, `create`, `revoke-self`; AppRole and Kubernetes login;
 * - KV version 2 (`<mount>/data/<path>` with `?version=` and check-and-set, `<mount>/metadata/<path>`);
 * - the database secrets engine: `creds/:role` creates a real MariaDB/MySQL user and a lease,
 *   `static-creds/:role` and `rotate-role/:role` manage an existing account's password.
 *
 * Leases and tokens expire on the emulator's monotonic clock; expiry, revocation, and revoking
 * the token that created a lease run Vault's MySQL revocation statements (`REVOKE ALL ...;
 * DROP USER ...`, no KILL). Policies are reported, never enforced: any valid token may call any
 * route. One emulator serves every namespace (the `X-Vault-Namespace` header is recorded, and
 * lease ids issued in a namespace get its id appended, as in Vault).
 *
 * Obtain one from {@link startVaultEmulator}; release it with {@link VaultEmulator.close}.
 *
 * @example
 * ```ts
 * import vaultClient from 'node-vault';
 * import { startTestServer, startVaultEmulator } from 'credswap/testing';
 *
 * const server = await startTestServer();
 * const vault = await startVaultEmulator({ server });
 * const database = await server.createDatabase();
 * vault.configureDatabaseRole('app', { dbName: database, defaultTtlS: 60, maxTtlS: 300 });
 * const { roleId, secretId } = vault.configureAppRole('app', { tokenTtlS: 600 });
 *
 * const client = vaultClient({ endpoint: vault.endpoint });
 * await client.approleLogin({ role_id: roleId, secret_id: secretId });
 * const { data, lease_id } = await client.read('database/creds/app'); // a real MariaDB user
 *
 * await vault.expireLease(lease_id); // REVOKE ALL + DROP USER, now
 * await vault.close();
 * await server.stop();
 * ```
 */
export interface VaultEmulator extends AsyncDisposable {
  /** The base address, `http://127.0.0.1:<port>` (same as {@link VaultEmulator.endpoint}). */
  readonly address: string;
  /** The base address to give clients, e.g. `node-vault`'s `endpoint` or `VAULT_ADDR`. */
  readonly endpoint: string;
  /** The TCP port. */
  readonly port: number;
  /** The root token: never expires, `root` policy. */
  readonly rootToken: string;
  /** Whether {@link VaultEmulator.seal} is in effect. */
  readonly sealed: boolean;
  /** Fault injection for the next requests. */
  readonly faults: VaultFaults;
  /**
   * Requests received per route since start or {@link VaultEmulator.resetCalls}, e.g.
   * `{ 'database/creds/:role': 3, 'sys/leases/renew': 1 }`. Every request counts, including
   * ones answered by a fault or refused while sealed; paths no route serves count as
   * `unknown`. A copy.
   */
  readonly calls: Readonly<Record<string, number>>;
  /** The most recent requests (up to {@link VAULT_EMULATOR_MAX_RECORDED_REQUESTS}), oldest first. A copy. */
  readonly requests: readonly VaultRequestRecord[];
  /** Failures of background work (revocation on expiry, scheduled rotation), the first 100. */
  readonly backgroundErrors: readonly Error[];

  /** Sets every count of {@link VaultEmulator.calls} back to zero and forgets {@link VaultEmulator.requests}. */
  resetCalls(): void;

  /**
   * Configures (or replaces) a dynamic role of the database secrets engine:
   * `GET <databaseMount>/creds/<name>` then creates a database user and a lease.
   *
   * @throws `InvalidOptionError` for invalid options; `Error` when the emulator has no database
   */
  configureDatabaseRole(name: string, options: DatabaseRoleOptions): void;

  /**
   * Configures (or replaces) a static role for an existing database account, sets a fresh
   * password for it now (`ALTER USER`), and rotates it every `rotationPeriodS` from then on.
   * `GET <databaseMount>/static-creds/<name>` returns the current password.
   *
   * @throws `Error` when the account does not exist or the emulator has no database
   */
  configureStaticRole(name: string, options: StaticRoleOptions): Promise<void>;

  /** Rotates a static role's password now, as `POST <databaseMount>/rotate-role/<name>` does, and restarts its period. */
  rotateStaticRole(name: string): Promise<void>;

  /**
   * Configures (or replaces) an AppRole for `auth/<approleMount>/login`.
   *
   * @returns the role id and secret id to log in with
   */
  configureAppRole(name: string, options?: AppRoleOptions): { roleId: string; secretId: string };

  /** Configures (or replaces) a Kubernetes auth role for `auth/<mount>/login`. */
  configureKubernetesRole(name: string, options: KubernetesRoleOptions): void;

  /** Creates an orphan token, as `auth/token/create` does, and returns it. */
  createToken(options?: CreateTokenOptions): string;

  /**
   * Revokes a token, its child tokens and every lease they created (their users are dropped).
   * Resolves once the revocations have run.
   *
   * @throws `Error` for a token that is not valid (the message does not contain it)
   */
  revokeToken(token: string): Promise<void>;

  /** Like {@link VaultEmulator.revokeToken}, recorded as an expiry: for tests that cannot wait for a TTL. */
  expireToken(token: string): Promise<void>;

  /**
   * Writes a new version of a KV version 2 secret, as `POST <mount>/data/<path>` does.
   *
   * @returns the new version number
   */
  writeKv(path: string, data: Record<string, unknown>, options?: WriteKvOptions): { version: number };

  /** Every lease of dynamic credentials issued so far, revoked ones included, oldest first. */
  leases(): VaultLeaseInfo[];

  /**
   * Expires a lease now: runs the revocation statements as expiry would. Resolves once they ran;
   * an already revoked lease resolves at once.
   *
   * @throws `Error` for a lease id the emulator never issued
   */
  expireLease(leaseId: string): Promise<void>;

  /**
   * Seals the emulator: every request but `sys/health` gets 503 `Vault is sealed`, and
   * `sys/health` answers 503 (or `sealedcode`). Nothing expires or rotates while sealed; what
   * fell due runs on {@link VaultEmulator.unseal}.
   */
  seal(): void;

  /** Unseals the emulator and runs the expiries and rotations that fell due while sealed. */
  unseal(): void;

  /**
   * Stops the emulator: stops listening, destroys open connections, cancels every timer,
   * waits for requests and revocations under way, then (with `revokeLeasesOnClose`) revokes the
   * leases still active. Never rejects; failures go to `onError`. Calling it again returns the
   * same promise.
   */
  close(): Promise<void>;
}

class Emulator implements VaultEmulator {
  readonly address: string;
  readonly endpoint: string;
  readonly port: number;
  readonly rootToken: string;

  private closing: Promise<void> | undefined;

  constructor(
    private readonly state: VaultState,
    private readonly options: ResolvedEmulatorOptions,
    private readonly http: VaultHttpServer,
    private readonly handler: RequestHandler,
    readonly faults: Faults,
    rootToken: string,
  ) {
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    this.address = `http://${host}:${http.port}`;
    this.endpoint = this.address;
    this.port = http.port;
    this.rootToken = rootToken;
  }

  get sealed(): boolean {
    return this.state.sealed;
  }

  get calls(): Readonly<Record<string, number>> {
    return this.handler.calls;
  }

  get requests(): readonly VaultRequestRecord[] {
    return this.handler.requests;
  }

  get backgroundErrors(): readonly Error[] {
    return Object.freeze([...this.state.errors]);
  }

  resetCalls(): void {
    this.handler.reset();
  }

  private checkOpen(): void {
    if (this.state.closed) throw new ClosedError('the Vault emulator');
  }

  configureDatabaseRole(name: string, options: DatabaseRoleOptions): void {
    this.checkOpen();
    configureDatabaseRole(this.state, name, options);
  }

  async configureStaticRole(name: string, options: StaticRoleOptions): Promise<void> {
    this.checkOpen();
    await configureStaticRole(this.state, name, options);
  }

  rotateStaticRole(name: string): Promise<void> {
    if (this.state.closed) return Promise.reject(new ClosedError('the Vault emulator'));
    return this.state.staticRoles.rotate(name);
  }

  configureAppRole(name: string, options?: AppRoleOptions): { roleId: string; secretId: string } {
    this.checkOpen();
    return configureAppRole(this.state, name, options);
  }

  configureKubernetesRole(name: string, options: KubernetesRoleOptions): void {
    this.checkOpen();
    configureKubernetesRole(this.state, name, options);
  }

  createToken(options?: CreateTokenOptions): string {
    this.checkOpen();
    return createToken(this.state, options);
  }

  revokeToken(token: string): Promise<void> {
    return this.endToken(token, 'revoked');
  }

  expireToken(token: string): Promise<void> {
    return this.endToken(token, 'expired');
  }

  private endToken(token: string, reason: 'revoked' | 'expired'): Promise<void> {
    if (this.state.closed) return Promise.reject(new ClosedError('the Vault emulator'));
    if (typeof token !== 'string' || this.state.tokens.get(token) === undefined) {
      return Promise.reject(new Error('that token is not valid: unknown, revoked or expired'));
    }
    return this.state.tokens.revoke(token, reason);
  }

  writeKv(path: string, data: Record<string, unknown>, options?: WriteKvOptions): { version: number } {
    this.checkOpen();
    return writeKv(this.state, this.options.kvMounts[0] ?? 'secret', path, data, options);
  }

  leases(): VaultLeaseInfo[] {
    return this.state.leases.list();
  }

  expireLease(leaseId: string): Promise<void> {
    if (this.state.closed) return Promise.reject(new ClosedError('the Vault emulator'));
    if (!this.state.leases.list().some((lease) => lease.leaseId === leaseId)) {
      return Promise.reject(new Error(`the emulator never issued the lease '${String(leaseId)}'`));
    }
    return this.state.leases.revoke(leaseId, 'expired');
  }

  seal(): void {
    this.checkOpen();
    this.state.seal();
  }

  unseal(): void {
    this.checkOpen();
    this.state.unseal();
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Tokens and passwords stay out of logs: only the address and state are shown. */
  [inspect.custom](): string {
    return `VaultEmulator { endpoint: '${this.endpoint}', sealed: ${this.state.sealed}, closed: ${this.state.closed} }`;
  }

  toJSON(): { endpoint: string; sealed: boolean; closed: boolean } {
    return { endpoint: this.endpoint, sealed: this.state.sealed, closed: this.state.closed };
  }

  private async shutdown(): Promise<void> {
    this.state.closed = true;
    this.state.timers.clear();
    this.state.tokens.stop();
    this.state.leases.stop();
    await this.http.close();
    await this.handler.settled();
    await this.state.staticRoles.stop();
    if (this.options.revokeLeasesOnClose && this.state.hasDb()) {
      await this.state.leases.revokeAll('closed').catch((error: unknown) => this.state.reportError(asError(error)));
    }
    await this.state.leases.settled();
    await this.state.admin?.close();
  }
}

/**
 * Starts a {@link VaultEmulator} on a free loopback port.
 *
 * @throws `InvalidOptionError` for unknown or invalid options
 *
 * @example
 * ```ts
 * const vault = await startVaultEmulator({ server: await startTestServer() });
 * process.env.VAULT_ADDR = vault.endpoint;
 * process.env.VAULT_TOKEN = vault.rootToken;
 * ```
 */
export async function startVaultEmulator(options: VaultEmulatorOptions = {}): Promise<VaultEmulator> {
  const resolved = resolveEmulatorOptions(options);
  const state = new VaultState({
    admin: resolved.admin,
    accountHosts: resolved.accountHosts,
    databaseMount: resolved.databaseMount,
    approleMount: resolved.approleMount,
    kvMounts: resolved.kvMounts,
    onError: resolved.onError,
  });
  const rootToken = resolved.rootToken ?? newToken();
  const root = state.tokens.create({
    id: rootToken,
    policies: ['root'],
    path: 'auth/token/root',
    displayName: 'root',
    meta: null,
    renewable: false,
    ttlS: 0,
    maxTtlS: 0,
    explicitMaxTtlS: 0,
    periodS: 0,
    renewToLastTtl: false,
    entityId: '',
    nonExpiring: true,
  });
  if (!root.ok) throw new Error(root.error);
  const faults = new Faults();
  const handler = new RequestHandler(state, faults);
  const http = await listen(resolved.host, resolved.port, handler.handle);
  return new Emulator(state, resolved, http, handler, faults, rootToken);
}
