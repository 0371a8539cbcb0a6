/**
 * Database secrets engine routes (`<mount>/creds/:role`, `static-creds/:role`,
 * `rotate-role/:role`) and the lease routes (`sys/leases/renew`, `revoke`, `lookup`).
 *
 * @packageDocumentation
 */

import { errorReply, NO_CONTENT, ok, type VaultReply } from './http.js';
import { base62, makeUsername, vaultPassword } from './random.js';
import type { RouteContext } from './route-context.js';
import { asError } from './tokens.js';
import { parseDurationS } from './ttl.js';

const internal = (message: string): VaultReply => errorReply(500, `1 error occurred:\n\t* ${message}\n\n`);

export async function dynamicCredentials({ state, token, request, params }: RouteContext): Promise<VaultReply> {
  const name = params.role;
  const role = state.databaseRoles.get(name);
  if (role === undefined) return errorReply(400, `unknown role: ${name}`);
  const username = makeUsername(role.usernameTemplate, { displayName: token!.displayName, roleName: name }, Math.floor(Date.now() / 1000));
  const password = vaultPassword();
  try {
    await state.requireDb().createUser(username, password, role.grants);
  } catch (error) {
    return internal(asError(error).message);
  }
  const leaseId = `${state.databaseMount}/creds/${name}/${base62(24)}${state.namespaceSuffix(request.namespace)}`;
  const lease = state.leases.register({
    leaseId,
    role: name,
    username,
    tokenId: token!.id,
    defaultTtlS: role.defaultTtlS,
    maxTtlS: role.maxTtlS,
  });
  if (!lease.ok) {
    await state
      .requireDb()
      .dropUser(username)
      .catch((error: unknown) => state.reportError(asError(error)));
    return internal(lease.error);
  }
  // The token was revoked or expired while the user was being made: its leases go with it.
  if (state.tokens.get(token!.id) === undefined) {
    await state.leases.revoke(leaseId, 'token-revoked').catch((error: unknown) => state.reportError(asError(error)));
  }
  return ok({
    mountType: 'database',
    leaseId,
    renewable: true,
    leaseDurationS: lease.ttlS,
    data: { username, password },
    warnings: lease.warnings,
  });
}

export function staticCredentials({ state, params }: RouteContext): VaultReply {
  const data = state.staticRoles.read(params.role);
  if (data === undefined) return errorReply(400, `unknown role: ${params.role}`);
  return ok({ mountType: 'database', data });
}

export async function rotateRole({ state, params }: RouteContext): Promise<VaultReply> {
  if (!state.staticRoles.has(params.role)) return errorReply(400, 'no static role found for role name');
  try {
    await state.staticRoles.rotate(params.role);
    return NO_CONTENT;
  } catch (error) {
    return internal(
      `unable to finish rotating credentials; retries will continue in the background but it is also safe to retry manually: ${asError(error).message}`,
    );
  }
}

function leaseIdOf({ request, params }: RouteContext): string | undefined {
  const id = request.body.lease_id;
  if (typeof id === 'string' && id !== '') return id;
  return params.lease !== undefined && params.lease !== '' ? params.lease : undefined;
}

export function renewLease(context: RouteContext): VaultReply {
  const leaseId = leaseIdOf(context);
  if (leaseId === undefined) return errorReply(400, 'lease_id must be specified');
  let increment: number;
  try {
    increment = parseDurationS(context.request.body.increment, 'increment');
  } catch (error) {
    return errorReply(400, asError(error).message);
  }
  const result = context.state.leases.renew(leaseId, increment);
  if (!result.ok) return errorReply(400, result.error);
  return ok({ mountType: 'system', leaseId, renewable: true, leaseDurationS: result.ttlS, warnings: result.warnings });
}

export async function revokeLease(context: RouteContext): Promise<VaultReply> {
  const leaseId = leaseIdOf(context);
  if (leaseId === undefined) return errorReply(400, 'lease_id must be specified');
  try {
    await context.state.leases.revoke(leaseId, 'revoked');
    return NO_CONTENT;
  } catch (error) {
    return errorReply(400, `failed to revoke entry: resp: (*logical.Response)(nil) err: ${asError(error).message}`);
  }
}

export function lookupLease(context: RouteContext): VaultReply {
  const leaseId = leaseIdOf(context);
  if (leaseId === undefined) return errorReply(400, 'lease_id must be specified');
  const data = context.state.leases.lookup(leaseId);
  if (data === undefined) return errorReply(400, 'invalid lease');
  return ok({ mountType: 'system', data });
}
