/**
 * What the emulator's setup helpers do to its state, as the matching Vault API calls would:
 * configure dynamic and static database roles, AppRoles and Kubernetes roles, create orphan
 * tokens and write KV secrets.
 *
 * @packageDocumentation
 */

import { InvalidOptionError } from '../../errors.js';
import { expectObject } from '../../options.js';
import { roleName } from './option-checks.js';
import { uuid } from './random.js';
import { sanitizePolicies } from './routes-auth.js';
import {
  resolveAppRole,
  resolveCreateToken,
  resolveDatabaseRole,
  resolveKubernetesRole,
  resolveStaticRole,
  resolveWriteKv,
  type AppRoleOptions,
  type CreateTokenOptions,
  type DatabaseRoleOptions,
  type KubernetesRoleOptions,
  type StaticRoleOptions,
  type WriteKvOptions,
} from './setup-options.js';
import type { VaultState } from './state.js';

/** See {@link VaultEmulator.configureDatabaseRole}. */
export function configureDatabaseRole(state: VaultState, name: string, options: DatabaseRoleOptions): void {
  roleName(name, 'configureDatabaseRole');
  const role = resolveDatabaseRole(options);
  state.requireDb();
  state.databaseRoles.set(name, { name, ...role });
}

/** See {@link VaultEmulator.configureStaticRole}. */
export async function configureStaticRole(state: VaultState, name: string, options: StaticRoleOptions): Promise<void> {
  roleName(name, 'configureStaticRole');
  const { username, rotationPeriodS } = resolveStaticRole(options);
  await state.staticRoles.configure(name, username, rotationPeriodS);
}

/** See {@link VaultEmulator.configureAppRole}. */
export function configureAppRole(state: VaultState, name: string, options?: AppRoleOptions): { roleId: string; secretId: string } {
  roleName(name, 'configureAppRole');
  const role = resolveAppRole(options);
  const roleId = role.roleId ?? uuid();
  const secretId = role.secretId ?? uuid();
  for (const other of state.approles.values()) {
    if (other.name !== name && other.roleId === roleId) throw new Error(`the role id is already used by the AppRole '${other.name}'`);
  }
  const previous = state.approles.get(name);
  state.approles.set(name, {
    name,
    roleId,
    secretId,
    tokenTtlS: role.tokenTtlS,
    tokenMaxTtlS: role.tokenMaxTtlS,
    tokenPeriodS: role.tokenPeriodS,
    policies: role.policies,
    entityId: previous?.entityId ?? uuid(),
  });
  return { roleId, secretId };
}

/** See {@link VaultEmulator.configureKubernetesRole}. */
export function configureKubernetesRole(state: VaultState, name: string, options: KubernetesRoleOptions): void {
  roleName(name, 'configureKubernetesRole');
  const role = resolveKubernetesRole(options);
  if (role.mount === state.approleMount) {
    throw new Error(`the mount '${role.mount}' is the AppRole mount`);
  }
  let roles = state.kubernetesRoles.get(role.mount);
  if (roles === undefined) state.kubernetesRoles.set(role.mount, (roles = new Map()));
  roles.set(name, { name, ...role, entityId: roles.get(name)?.entityId ?? uuid() });
}

/** See {@link VaultEmulator.createToken}. */
export function createToken(state: VaultState, options?: CreateTokenOptions): string {
  const spec = resolveCreateToken(options);
  const policies = sanitizePolicies(spec.policies, true);
  const result = state.tokens.create({
    policies,
    path: 'auth/token/create',
    displayName: spec.displayName === undefined ? 'token' : `token-${spec.displayName}`.replace(/[^a-zA-Z0-9-]/g, '-'),
    meta: null,
    renewable: spec.renewable,
    ttlS: spec.ttlS,
    maxTtlS: 0,
    explicitMaxTtlS: spec.maxTtlS,
    periodS: spec.periodS,
    renewToLastTtl: true,
    entityId: '',
  });
  if (!result.ok) throw new Error(`cannot create the token: ${result.error}`);
  return result.token.id;
}

/** See {@link VaultEmulator.writeKv}; `fallbackMount` when `options` name none. */
export function writeKv(
  state: VaultState,
  fallbackMount: string,
  path: string,
  data: Record<string, unknown>,
  options?: WriteKvOptions,
): { version: number } {
  const mount = resolveWriteKv(options, fallbackMount);
  if (mount === state.databaseMount) throw new Error(`the mount '${mount}' is the database mount`);
  if (typeof path !== 'string' || path === '' || path.startsWith('/') || path.endsWith('/')) {
    throw new InvalidOptionError('writeKv(path)', 'must be a non-empty path without a leading or trailing /');
  }
  expectObject(data, 'writeKv(data)');
  state.kv.addMount(mount);
  const result = state.kv.write(mount, path, data);
  if (!result.ok) throw new Error(result.error);
  return { version: result.metadata.version };
}
