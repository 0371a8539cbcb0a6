/**
 * Static database roles: an existing account whose password the emulator sets at registration
 * and again every rotation period (or on demand), with `ALTER USER`, as Vault's database
 * secrets engine does for static roles.
 *
 * @packageDocumentation
 */

import { now, type Timers } from './clock.js';
import type { DatabaseStatements } from './database.js';
import { vaultPassword } from './random.js';
import { asError } from './tokens.js';

interface StaticRole {
  readonly name: string;
  readonly username: string;
  readonly rotationPeriodS: number;
  password: string;
  lastRotationWallMs: number;
  nextRotationAtMs: number;
  cancel: (() => void) | undefined;
  rotating: Promise<void> | undefined;
}

/** `database/static-creds/:role` data. */
export interface StaticCredentials {
  username: string;
  password: string;
  last_vault_rotation: string;
  rotation_period: number;
  ttl: number;
}

export interface StaticRolesHooks {
  readonly timers: Timers;
  readonly db: () => DatabaseStatements;
  readonly whenUnsealed: (task: () => void) => void;
  readonly onError: (error: Error) => void;
}

export class StaticRoles {
  private readonly roles = new Map<string, StaticRole>();

  constructor(private readonly hooks: StaticRolesHooks) {}

  /** Registers (or replaces) a role and sets a fresh password for its account now. */
  async configure(name: string, username: string, rotationPeriodS: number): Promise<void> {
    const db = this.hooks.db();
    await db.requireUser(username);
    const password = vaultPassword();
    await db.setPassword(username, password);
    this.roles.get(name)?.cancel?.();
    const role: StaticRole = {
      name,
      username,
      rotationPeriodS,
      password,
      lastRotationWallMs: Date.now(),
      nextRotationAtMs: now() + rotationPeriodS * 1000,
      cancel: undefined,
      rotating: undefined,
    };
    this.roles.set(name, role);
    this.schedule(role);
  }

  has(name: string): boolean {
    return this.roles.has(name);
  }

  /** Rotates now and restarts the role's period; concurrent calls share one rotation. */
  rotate(name: string): Promise<void> {
    const role = this.roles.get(name);
    if (role === undefined) return Promise.reject(new Error(`no static role named '${name}'`));
    role.rotating ??= this.rotateNow(role).finally(() => {
      role.rotating = undefined;
    });
    return role.rotating;
  }

  /** The role's current credentials, or `undefined` for an unknown role. */
  read(name: string): StaticCredentials | undefined {
    const role = this.roles.get(name);
    if (role === undefined) return undefined;
    return {
      username: role.username,
      password: role.password,
      last_vault_rotation: new Date(role.lastRotationWallMs).toISOString(),
      rotation_period: role.rotationPeriodS,
      ttl: Math.max(0, Math.round((role.nextRotationAtMs - now()) / 1000)),
    };
  }

  /** Cancels every rotation timer and waits for rotations under way. */
  async stop(): Promise<void> {
    for (const role of this.roles.values()) {
      role.cancel?.();
      role.cancel = undefined;
    }
    await Promise.allSettled([...this.roles.values()].flatMap((role) => (role.rotating ? [role.rotating] : [])));
  }

  private async rotateNow(role: StaticRole): Promise<void> {
    const password = vaultPassword();
    try {
      await this.hooks.db().setPassword(role.username, password);
      role.password = password;
      role.lastRotationWallMs = Date.now();
      role.nextRotationAtMs = now() + role.rotationPeriodS * 1000;
    } catch (error) {
      // Vault retries a failed rotation 10 s later.
      role.nextRotationAtMs = now() + Math.min(10, role.rotationPeriodS) * 1000;
      throw error;
    } finally {
      if (this.roles.get(role.name) === role) this.schedule(role);
    }
  }

  private schedule(role: StaticRole): void {
    role.cancel?.();
    role.cancel = this.hooks.timers.at(role.nextRotationAtMs, () => {
      role.cancel = undefined;
      this.hooks.whenUnsealed(() => {
        this.rotate(role.name).catch((error: unknown) => this.hooks.onError(asError(error)));
      });
    });
  }
}
