/**
 * The emulator's routes: which handler answers a path and method, whether it needs a token, and
 * the route name it is counted under (`database/creds/:role`). Also the `sys/health` handler.
 *
 * @packageDocumentation
 */

import { errorReply, type VaultReply } from './http.js';
import type { Handler, RouteContext } from './route-context.js';
import { approleLogin, createToken, kubernetesLogin, lookupSelf, renewSelf, revokeSelf } from './routes-auth.js';
import { dynamicCredentials, lookupLease, renewLease, revokeLease, rotateRole, staticCredentials } from './routes-database.js';
import { kvDeleteMetadata, kvMetadata, kvRead, kvWrite } from './routes-kv.js';
import type { VaultState } from './state.js';

/**
 * The Vault version the emulator reports in `sys/health`; its error texts follow this version.
 *
 * @example
 * ```ts
 * assert.equal((await client.health()).version, EMULATED_VAULT_VERSION);
 * ```
 */
export const EMULATED_VAULT_VERSION = '1.17.0';

/** A matched route. */
export interface Route {
  /** The name it is counted under. */
  readonly name: string;
  /** Whether a valid token is required. */
  readonly authenticated: boolean;
  readonly handlers: Readonly<Record<string, Handler>>;
  readonly params: Readonly<Record<string, string>>;
}

/** The route for a path, or the 404 answer for a path no route serves. */
export type Resolution = { readonly route: Route } | { readonly name: string; readonly reply: VaultReply };

const UNSUPPORTED_PATH = errorReply(404, '1 error occurred:\n\t* unsupported path\n\n');
/** A known path with a method it does not support. */
export const UNSUPPORTED_OPERATION = errorReply(405, '1 error occurred:\n\t* unsupported operation\n\n');

function route(name: string, authenticated: boolean, handlers: Record<string, Handler>, params: Record<string, string> = {}): Resolution {
  return { route: { name, authenticated, handlers, params } };
}

/** Finds the route for `path` (after `/v1/`). */
export function resolve(state: VaultState, path: string): Resolution {
  const segments = path.split('/');
  const [first, second] = segments;

  if (first === 'sys') {
    if (path === 'sys/health') return route('sys/health', false, { GET: health, HEAD: health });
    const lease = /^sys\/(?:leases\/)?(renew|revoke|lookup)(?:\/(.+))?$/.exec(path);
    if (lease !== null) {
      const [, action, id] = lease;
      const handler = action === 'renew' ? renewLease : action === 'revoke' ? revokeLease : lookupLease;
      return route(`sys/leases/${action}`, true, { POST: handler }, id === undefined ? {} : { lease: id });
    }
    return { name: 'unknown', reply: UNSUPPORTED_PATH };
  }

  if (first === 'auth' && second === 'token') {
    switch (path) {
      case 'auth/token/lookup-self':
        return route(path, true, { GET: lookupSelf, POST: lookupSelf });
      case 'auth/token/renew-self':
        return route(path, true, { POST: renewSelf });
      case 'auth/token/create':
        return route(path, true, { POST: createToken });
      case 'auth/token/revoke-self':
        return route(path, true, { POST: revokeSelf });
      default:
        return { name: 'unknown', reply: UNSUPPORTED_PATH };
    }
  }
  if (first === 'auth' && second !== undefined && segments.length === 3 && segments[2] === 'login') {
    if (second === state.approleMount) return route(path, false, { POST: approleLogin });
    if (state.kubernetesRoles.has(second)) return route(path, false, { POST: kubernetesLogin(second) });
  }

  if (first === state.databaseMount && segments.length === 3 && segments[2] !== '') {
    const role = { role: segments[2] };
    switch (second) {
      case 'creds':
        return route(`${first}/creds/:role`, true, { GET: dynamicCredentials }, role);
      case 'static-creds':
        return route(`${first}/static-creds/:role`, true, { GET: staticCredentials }, role);
      case 'rotate-role':
        return route(`${first}/rotate-role/:role`, true, { POST: rotateRole }, role);
    }
  }
  if (first !== undefined && state.kv.hasMount(first) && (second === 'data' || second === 'metadata') && segments.length > 2) {
    const params = { path: segments.slice(2).join('/') };
    return second === 'data'
      ? route(`${first}/data/:path`, true, { GET: kvRead, POST: kvWrite }, params)
      : route(`${first}/metadata/:path`, true, { GET: kvMetadata, DELETE: kvDeleteMetadata }, params);
  }
  if (first === state.databaseMount || (first !== undefined && state.kv.hasMount(first)) || first === 'auth') {
    return { name: 'unknown', reply: UNSUPPORTED_PATH };
  }
  return { name: 'unknown', reply: errorReply(404, `no handler for route "${path}". route entry not found.`) };
}

/** `sys/health`: 200 when active, 503 when sealed, or the codes the query asks for. */
function health({ state, request }: RouteContext): VaultReply {
  const param = request.query.get(state.sealed ? 'sealedcode' : 'activecode');
  const code = param === null ? (state.sealed ? 503 : 200) : Number(param);
  if (!Number.isInteger(code) || code < 100 || code > 599) {
    return errorReply(400, `bad code for '${state.sealed ? 'sealedcode' : 'activecode'}' parameter`);
  }
  const body: Record<string, unknown> = {
    initialized: true,
    sealed: state.sealed,
    standby: state.sealed,
    performance_standby: false,
    replication_performance_mode: 'disabled',
    replication_dr_mode: 'disabled',
    server_time_utc: Math.floor(Date.now() / 1000),
    version: EMULATED_VAULT_VERSION,
    enterprise: false,
    echo_duration_ms: 0,
    clock_skew_ms: 0,
    replication_primary_canary_age_ms: 0,
  };
  if (!state.sealed) {
    body.cluster_name = 'vault-cluster-emulator';
    body.cluster_id = CLUSTER_ID;
  }
  return { status: code, body };
}
const CLUSTER_ID = '5c1a2f0e-9d4b-4b7e-8a63-0f3f6d2b9c41';
