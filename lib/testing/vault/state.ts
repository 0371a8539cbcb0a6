/**
 * Everything the emulator knows: its stores, the configured roles, its seal state, and the
 * background work that must wait while it is sealed.
 *
 * @packageDocumentation
 */

import { Timers } from './clock.js';
import { Admin, type AdminAccess } from './admin.js';
import { DatabaseStatements } from './database.js';
import { KvStore } from './kv.js';
import { LeaseStore } from './leases.js';
import { base62, type UsernameTemplate } from './random.js';
import { StaticRoles } from './static-roles.js';
import { TokenStore } from './tokens.js';

/** A configured AppRole. */
export interface AppRole {
  readonly name: string;
  readonly roleId: string;
  readonly secretId: string;
  readonly tokenTtlS: number;
  readonly tokenMaxTtlS: number;
  readonly tokenPeriodS: number;
  readonly policies: readonly string[];
  readonly entityId: string;
}

/** A configured Kubernetes auth role. */
export interface KubernetesRole {
  readonly name: string;
  readonly mount: string;
  readonly jwt: string | undefined;
  readonly subject: string | undefined;
  readonly tokenTtlS: number;
  readonly tokenMaxTtlS: number;
  readonly tokenPeriodS: number;
  readonly policies: readonly string[];
  readonly entityId: string;
}

/** A configured dynamic database role. */
export interface DatabaseRole {
  readonly name: string;
  readonly defaultTtlS: number;
  readonly maxTtlS: number;
  readonly grants: string;
  readonly usernameTemplate: UsernameTemplate;
}

export interface VaultStateConfig {
  readonly admin: AdminAccess | undefined;
  readonly accountHosts: readonly string[];
  readonly databaseMount: string;
  readonly approleMount: string;
  readonly kvMounts: readonly string[];
  readonly onError: (error: Error) => void;
}

const MAX_KEPT_ERRORS = 100;

export class VaultState {
  readonly timers = new Timers();
  readonly tokens: TokenStore;
  readonly leases: LeaseStore;
  readonly kv: KvStore;
  readonly staticRoles: StaticRoles;
  readonly admin: Admin | undefined;
  readonly databaseMount: string;
  readonly approleMount: string;
  readonly approles = new Map<string, AppRole>();
  /** Kubernetes roles by mount, then by name. */
  readonly kubernetesRoles = new Map<string, Map<string, KubernetesRole>>();
  readonly databaseRoles = new Map<string, DatabaseRole>();
  /** Failures of background work (expiry revocations, scheduled rotations), the first 100. */
  readonly errors: Error[] = [];
  sealed = false;
  closed = false;

  private readonly db: DatabaseStatements | undefined;
  private readonly onError: (error: Error) => void;
  private unsealQueue: Array<() => void> = [];
  private readonly namespaceIds = new Map<string, string>();

  constructor(config: VaultStateConfig) {
    this.onError = config.onError;
    this.databaseMount = config.databaseMount;
    this.approleMount = config.approleMount;
    this.admin = config.admin === undefined ? undefined : new Admin(config.admin);
    this.db = this.admin === undefined ? undefined : new DatabaseStatements(this.admin, config.accountHosts);
    const whenUnsealed = (task: () => void): void => this.whenUnsealed(task);
    const reportError = (error: Error): void => this.reportError(error);
    this.kv = new KvStore(config.kvMounts);
    this.leases = new LeaseStore({
      timers: this.timers,
      dropUser: (username) => this.requireDb().dropUser(username),
      whenUnsealed,
      onError: reportError,
    });
    this.tokens = new TokenStore({
      timers: this.timers,
      onRevoke: (token, reason) => this.leases.revokeByToken(token.id, reason === 'closed' ? reason : 'token-revoked'),
      whenUnsealed,
      onError: reportError,
    });
    this.staticRoles = new StaticRoles({
      timers: this.timers,
      db: () => this.requireDb(),
      whenUnsealed,
      onError: reportError,
    });
  }

  /** The database statements; throws when no database connection was configured. */
  requireDb(): DatabaseStatements {
    if (this.db === undefined) {
      throw new Error('the Vault emulator has no database connection: start it with the server or mysql option');
    }
    return this.db;
  }

  hasDb(): boolean {
    return this.db !== undefined;
  }

  /** Runs `task` now, or when unsealed: a sealed Vault expires and rotates nothing. */
  whenUnsealed(task: () => void): void {
    if (this.closed) return;
    if (this.sealed) this.unsealQueue.push(task);
    else task();
  }

  seal(): void {
    this.sealed = true;
  }

  unseal(): void {
    this.sealed = false;
    const queued = this.unsealQueue;
    this.unsealQueue = [];
    for (const task of queued) task();
  }

  /** `.<namespace id>` for lease ids issued in a namespace, as Vault appends; `''` in the root namespace. */
  namespaceSuffix(namespace: string | undefined): string {
    if (namespace === undefined || namespace === '' || namespace === 'root') return '';
    let id = this.namespaceIds.get(namespace);
    if (id === undefined) this.namespaceIds.set(namespace, (id = base62(5)));
    return `.${id}`;
  }

  reportError(error: Error): void {
    if (this.errors.length < MAX_KEPT_ERRORS) this.errors.push(error);
    try {
      this.onError(error);
    } catch {
      // A throwing listener must not break the emulator's background work.
    }
  }
}
