/**
 * Auth routes: the token store (`auth/token/lookup-self`, `renew-self`, `create`,
 * `revoke-self`), AppRole login and Kubernetes login, with Vault's response shapes.
 *
 * @packageDocumentation
 */

import { now } from './clock.js';
import { errorReply, NO_CONTENT, ok, VAULT_PERMISSION_DENIED_ERROR, type VaultReply } from './http.js';
import type { RouteContext } from './route-context.js';
import type { AppRole, KubernetesRole, VaultState } from './state.js';
import { asError, type TokenEntry, type TokenSpec } from './tokens.js';
import { parseDurationS } from './ttl.js';

const iso = (wallMs: number): string => new Date(wallMs).toISOString();

/** Vault's `policyutil.SanitizePolicies`: trimmed, lower-case, sorted, unique, with `default` unless told otherwise. */
export function sanitizePolicies(policies: readonly string[], addDefault: boolean): string[] {
  const set = new Set(policies.map((p) => p.trim().toLowerCase()).filter((p) => p !== ''));
  if (set.has('root')) return ['root'];
  if (addDefault) set.add('default');
  return [...set].sort();
}

/** The `auth` object of a login, create or renew answer. */
function authObject(token: TokenEntry, leaseDurationS: number): Record<string, unknown> {
  return {
    client_token: token.id,
    accessor: token.accessor,
    policies: [...token.policies],
    token_policies: [...token.policies],
    metadata: token.meta,
    lease_duration: leaseDurationS,
    renewable: token.renewable && token.expiresAtMs !== undefined,
    entity_id: token.entityId,
    token_type: 'service',
    orphan: token.parentId === undefined,
    mfa_requirement: null,
    num_uses: 0,
  };
}

/** `auth/token/lookup-self` data. */
function lookupData(token: TokenEntry): Record<string, unknown> {
  const nowMs = now();
  const data: Record<string, unknown> = {
    accessor: token.accessor,
    creation_time: Math.floor(token.issueWallMs / 1000),
    creation_ttl: token.creationTtlS,
    display_name: token.displayName,
    entity_id: token.entityId,
    expire_time: token.expiresAtMs === undefined ? null : iso(Date.now() + (token.expiresAtMs - nowMs)),
    explicit_max_ttl: token.explicitMaxTtlS,
    id: token.id,
    issue_time: iso(token.issueWallMs),
    meta: token.meta,
    num_uses: 0,
    orphan: token.parentId === undefined,
    path: token.path,
    policies: [...token.policies],
    renewable: token.renewable && token.expiresAtMs !== undefined,
    ttl: token.expiresAtMs === undefined ? 0 : Math.max(0, Math.round((token.expiresAtMs - nowMs) / 1000)),
    type: 'service',
  };
  if (token.lastRenewalWallMs !== undefined) {
    data.last_renewal = iso(token.lastRenewalWallMs);
    data.last_renewal_time = Math.floor(token.lastRenewalWallMs / 1000);
  }
  if (token.periodS > 0) data.period = token.periodS;
  return data;
}

function field(body: Record<string, unknown>, name: string): VaultReply | number {
  try {
    return parseDurationS(body[name], name);
  } catch (error) {
    return errorReply(400, asError(error).message);
  }
}

export function lookupSelf({ token }: RouteContext): VaultReply {
  return ok({ mountType: 'token', data: lookupData(token!) });
}

export function renewSelf({ state, token, request }: RouteContext): VaultReply {
  const increment = field(request.body, 'increment');
  if (typeof increment !== 'number') return increment;
  const result = state.tokens.renew(token!, increment);
  if (!result.ok) return errorReply(400, result.error);
  return ok({ mountType: 'token', auth: authObject(token!, result.ttlS), warnings: result.warnings });
}

export async function revokeSelf({ state, token }: RouteContext): Promise<VaultReply> {
  try {
    await state.tokens.revoke(token!.id, 'revoked');
    return NO_CONTENT;
  } catch (error) {
    return errorReply(500, `1 error occurred:\n\t* failed to revoke token: ${asError(error).message}\n\n`);
  }
}

const strings = (value: unknown): string[] | undefined =>
  Array.isArray(value) ? value.map(String) : typeof value === 'string' ? value.split(',') : undefined;

export function createToken({ state, token, request }: RouteContext): VaultReply {
  const body = request.body;
  const ttlS = field(body, 'ttl');
  if (typeof ttlS !== 'number') return ttlS;
  const explicitMaxTtlS = field(body, 'explicit_max_ttl');
  if (typeof explicitMaxTtlS !== 'number') return explicitMaxTtlS;
  const periodS = field(body, 'period');
  if (typeof periodS !== 'number') return periodS;
  const parent = token!;
  const requested = strings(body.policies);
  const policies = requested === undefined ? [...parent.policies] : sanitizePolicies(requested, body.no_default_policy !== true);
  if (policies.includes('root') && !parent.policies.includes('root')) {
    return errorReply(400, 'root tokens may not be created without parent token being root');
  }
  const displayName =
    typeof body.display_name === 'string' && body.display_name !== ''
      ? `token-${body.display_name}`.replace(/[^a-zA-Z0-9-]/g, '-').replace(/-+$/, '')
      : 'token';
  const meta =
    body.meta !== null && typeof body.meta === 'object' && !Array.isArray(body.meta)
      ? Object.fromEntries(Object.entries(body.meta).map(([k, v]) => [k, String(v)]))
      : null;
  const spec: TokenSpec = {
    policies,
    path: 'auth/token/create',
    displayName,
    meta,
    parentId: body.no_parent === true ? undefined : parent.id,
    renewable: body.renewable !== false,
    ttlS,
    maxTtlS: 0,
    explicitMaxTtlS,
    periodS,
    renewToLastTtl: true,
    entityId: '',
    nonExpiring: policies.includes('root') && ttlS === 0 && periodS === 0 && explicitMaxTtlS === 0,
  };
  if (typeof body.id === 'string' && body.id !== '') {
    if (state.tokens.get(body.id) !== undefined) return errorReply(400, 'cannot use a token ID that is already in use');
    spec.id = body.id;
  }
  const result = state.tokens.create(spec);
  if (!result.ok) return errorReply(400, result.error);
  return ok({ mountType: 'token', auth: authObject(result.token, result.ttlS), warnings: result.warnings });
}

/** Issues a login token for an AppRole or Kubernetes role. */
function login(
  state: VaultState,
  role: AppRole | KubernetesRole,
  mount: string,
  displayName: string,
  meta: Record<string, string>,
): VaultReply {
  const result = state.tokens.create({
    policies: sanitizePolicies(role.policies, true),
    path: `auth/${mount}/login`,
    displayName,
    meta,
    renewable: true,
    ttlS: role.tokenTtlS,
    maxTtlS: role.tokenMaxTtlS,
    explicitMaxTtlS: 0,
    periodS: role.tokenPeriodS,
    renewToLastTtl: false,
    entityId: role.entityId,
  });
  if (!result.ok) return errorReply(400, result.error);
  return ok({
    mountType: mount === state.approleMount ? 'approle' : 'kubernetes',
    auth: authObject(result.token, result.ttlS),
    warnings: result.warnings,
  });
}

export function approleLogin({ state, request }: RouteContext): VaultReply {
  const roleId = request.body.role_id;
  if (typeof roleId !== 'string' || roleId === '') return errorReply(400, 'missing role_id');
  const role = [...state.approles.values()].find((r) => r.roleId === roleId);
  if (role === undefined || request.body.secret_id !== role.secretId) {
    return errorReply(400, 'invalid role or secret ID');
  }
  return login(state, role, state.approleMount, state.approleMount, { role_name: role.name });
}

/** The payload's `sub` claim of a JWT, without verifying it; `undefined` if it has none. */
function jwtSubject(jwt: string): string | undefined {
  const payload = jwt.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    const sub = (claims as { sub?: unknown } | null)?.sub;
    return typeof sub === 'string' ? sub : undefined;
  } catch {
    return undefined;
  }
}

export function kubernetesLogin(mount: string) {
  return ({ state, request }: RouteContext): VaultReply => {
    const { role: name, jwt } = request.body;
    if (typeof name !== 'string' || name === '') return errorReply(400, 'missing role');
    if (typeof jwt !== 'string' || jwt === '') return errorReply(400, 'missing jwt');
    const role = state.kubernetesRoles.get(mount)?.get(name);
    if (role === undefined) return errorReply(400, `invalid role name "${name}"`);
    const subject = jwtSubject(jwt);
    const accepted = role.jwt !== undefined ? jwt === role.jwt : subject !== undefined && subject === role.subject;
    if (!accepted) return errorReply(403, VAULT_PERMISSION_DENIED_ERROR);
    const account = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(subject ?? '');
    const displayName = account === null ? mount : `${mount}-${account[1]}-${account[2]}`;
    return login(state, role, mount, displayName, {
      role: name,
      service_account_name: account?.[2] ?? '',
      service_account_namespace: account?.[1] ?? '',
      service_account_secret_name: '',
      service_account_uid: '',
    });
  };
}
