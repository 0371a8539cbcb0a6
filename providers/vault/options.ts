/**
 * The `vault` and `client` options every Vault provider takes, their validation and defaults,
 * and helpers for validated mount, role and path names.
 *
 * @packageDocumentation
 */

import { InvalidOptionError } from '../../lib/errors.js';
import { duration, expectObject, rejectUnknownKeys, string } from '../../lib/options.js';

// node-vault's types are written here by shape, not imported, so that credswap's published
// declarations compile without node-vault installed. The node-vault tests check the real thing.
/* eslint-disable @typescript-eslint/no-explicit-any -- node-vault's own signatures */

/** node-vault's per-request options (axios settings), as credswap passes them. */
export type VaultRequestSettings = Record<string, any>;

/** The node-vault client methods credswap calls, with node-vault's signatures. */
export interface VaultSdkClient extends NodeVaultClient {
  approleLogin(options: { role_id: string; secret_id: string; mount_point?: string; requestOptions?: VaultRequestSettings }): Promise<any>;
  kubernetesLogin(options: { role: string; jwt?: string; mount_point?: string; requestOptions?: VaultRequestSettings }): Promise<any>;
  tokenLookupSelf(options?: { requestOptions?: VaultRequestSettings }): Promise<any>;
  tokenRenewSelf(options?: { increment?: number | string; requestOptions?: VaultRequestSettings }): Promise<any>;
  renew(options: { lease_id: string; increment?: number; requestOptions?: VaultRequestSettings }): Promise<any>;
  revoke(options: { lease_id: string; requestOptions?: VaultRequestSettings }): Promise<any>;
}

/** node-vault's factory: `require('node-vault')`. */
export type NodeVaultFactory = (options?: {
  endpoint?: string;
  token?: string;
  namespace?: string;
  requestOptions?: VaultRequestSettings;
  debug?: (...args: any[]) => void;
  [option: string]: unknown;
}) => VaultSdkClient;

/**
 * What credswap needs of a node-vault client: any client `require('node-vault')({ ... })`
 * returns fits. Typed by shape, so credswap's declarations compile without node-vault installed.
 */
export interface NodeVaultClient {
  token: string;
  endpoint: string;
  read(path: string, requestOptions?: VaultRequestSettings): Promise<any>;
  write(path: string, data: any, requestOptions?: VaultRequestSettings): Promise<any>;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/**
 * Default of {@link VaultConnectionOptions.requestTimeoutMs}: 5 s per request.
 * @example
 * ```ts
 * new VaultDatabaseProvider({ role: 'app', vault: { endpoint, auth, requestTimeoutMs: DEFAULT_VAULT_REQUEST_TIMEOUT_MS * 2 } });
 * ```
 */
export const DEFAULT_VAULT_REQUEST_TIMEOUT_MS = 5_000;
/**
 * Default of {@link VaultKubernetesAuth.kubernetes}`.jwtPath`: where Kubernetes mounts the pod's
 * service account token.
 * @example
 * ```ts
 * const auth = { kubernetes: { role: 'app', jwtPath: DEFAULT_KUBERNETES_JWT_PATH } };
 * ```
 */
export const DEFAULT_KUBERNETES_JWT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';
/**
 * Default mount of the AppRole auth method.
 * @example
 * ```ts
 * const auth = { appRole: { roleId, secretId, mount: DEFAULT_APPROLE_MOUNT } };
 * ```
 */
export const DEFAULT_APPROLE_MOUNT = 'approle';
/**
 * Default mount of the Kubernetes auth method.
 * @example
 * ```ts
 * const auth = { kubernetes: { role: 'app', mount: DEFAULT_KUBERNETES_MOUNT } };
 * ```
 */
export const DEFAULT_KUBERNETES_MOUNT = 'kubernetes';

/**
 * Default of `VaultDatabaseProviderOptions.mount` and `VaultStaticRoleProviderOptions.mount`: where the database secrets engine is mounted.
 * @example
 * ```ts
 * new VaultDatabaseProvider({ role: 'orders', mount: DEFAULT_VAULT_DATABASE_MOUNT, vault });
 * ```
 */
export const DEFAULT_VAULT_DATABASE_MOUNT = 'database';

/** Authenticate with a token you already have (`X-Vault-Token`). It is renewed with renew-self. */
export interface VaultTokenAuth {
  /** The Vault token. Never logged. */
  token: string;
}

/** Authenticate with AppRole (`POST auth/<mount>/login`). */
export interface VaultAppRoleAuth {
  appRole: {
    /** The role id. */
    roleId: string;
    /** The secret id. Never logged. */
    secretId: string;
    /** @defaultValue {@link DEFAULT_APPROLE_MOUNT} (`'approle'`) */
    mount?: string;
  };
}

/** Authenticate with the pod's Kubernetes service account (`POST auth/<mount>/login`). */
export interface VaultKubernetesAuth {
  kubernetes: {
    /** The Vault role bound to the service account. */
    role: string;
    /**
     * The service account token file, re-read at every login (Kubernetes rotates it).
     * @defaultValue {@link DEFAULT_KUBERNETES_JWT_PATH}
     */
    jwtPath?: string;
    /** @defaultValue {@link DEFAULT_KUBERNETES_MOUNT} (`'kubernetes'`) */
    mount?: string;
  };
}

/** How a {@link VaultSession} authenticates: exactly one of `token`, `appRole`, `kubernetes`. */
export type VaultAuth = VaultTokenAuth | VaultAppRoleAuth | VaultKubernetesAuth;

/**
 * The `vault` option of every Vault provider: where Vault is and how to log in.
 *
 * @example
 * ```ts
 * const vault: VaultConnectionOptions = {
 *   endpoint: 'https://vault.internal:8200',
 *   auth: { kubernetes: { role: 'orders' } },
 * };
 * ```
 */
export interface VaultConnectionOptions {
  /** Vault's address, e.g. `https://vault.internal:8200`. Not allowed together with `client`. */
  endpoint?: string;
  /**
   * The Vault Enterprise namespace (`X-Vault-Namespace`). Not allowed together with `client`.
   * @defaultValue none (node-vault then reads `VAULT_NAMESPACE`)
   */
  namespace?: string;
  /**
   * How to log in. Required without `client`; with `client`, the client's current token is
   * used (and renewed) unless `auth` says otherwise.
   */
  auth?: VaultAuth;
  /**
   * Time limit of each request to Vault, in milliseconds.
   * @defaultValue {@link DEFAULT_VAULT_REQUEST_TIMEOUT_MS}
   */
  requestTimeoutMs?: number;
}

/**
 * What a {@link VaultSession} is made from: the `vault` and `client` options of a provider.
 *
 * @example
 * ```ts
 * const options: VaultSessionOptions = { vault: { endpoint, auth: { token: process.env.VAULT_TOKEN! } } };
 * ```
 */
export interface VaultSessionOptions {
  /** Where Vault is and how to log in. */
  vault?: VaultConnectionOptions;
  /**
   * A node-vault client of your own (TLS settings, a proxy...). The session takes over its
   * `token`: it renews it, or replaces it after logging in with `vault.auth`. Its debug output
   * is yours to keep off: node-vault's `debug` channel (`DEBUG=node-vault`) prints request
   * bodies, secret ids and JWTs included; never enable it in production. Clients credswap
   * creates get a silent `debug`.
   */
  client?: NodeVaultClient;
}

/** The option names a provider accepts for its session. */
export const VAULT_SESSION_OPTION_KEYS: readonly string[] = ['vault', 'client'];

/** Validated `vault.auth`. */
export type ResolvedAuth =
  | { kind: 'token'; token: string | undefined }
  | { kind: 'appRole'; roleId: string; secretId: string; mount: string }
  | { kind: 'kubernetes'; role: string; jwtPath: string; mount: string };

/** Validated session options, defaults applied. */
export interface ResolvedSession {
  readonly endpoint: string | undefined;
  readonly namespace: string | undefined;
  readonly auth: ResolvedAuth;
  readonly requestTimeoutMs: number;
  readonly client: VaultSdkClient | undefined;
}

const MOUNT = /^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/;

/** A mount path (`database`, `db/prod`): letters, digits, `_ . -`, segments joined by `/`. */
export function vaultMount(bag: Record<string, unknown>, key: string, prefix: string, fallback: string): string {
  const value = string(bag, key, prefix, fallback)!;
  if (!MOUNT.test(value) || value.split('/').some((part) => part === '.' || part === '..')) {
    throw new InvalidOptionError(`${prefix}${key}`, 'must be a mount path: letters, digits, _ . - in segments joined by /');
  }
  return value;
}

/** A role or secret name: one or more path segments, each percent-encoded when the path is built. */
export function vaultName(bag: Record<string, unknown>, key: string, prefix: string): string {
  const value = string(bag, key, prefix);
  if (value === undefined) throw new InvalidOptionError(`${prefix}${key}`, 'is required');
  if (value.startsWith('/') || value.endsWith('/') || value.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new InvalidOptionError(`${prefix}${key}`, 'must be a path without empty, . or .. segments and without a leading or trailing /');
  }
  return value;
}

/** Joins path parts into a Vault path, percent-encoding each segment. */
export function vaultPath(...parts: string[]): string {
  return parts
    .flatMap((part) => part.split('/'))
    .map((segment) => encodeURIComponent(segment))
    .join('/');
}

function isNodeVaultClient(value: unknown): value is NodeVaultClient {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as NodeVaultClient).read === 'function' &&
    typeof (value as NodeVaultClient).write === 'function'
  );
}

function resolveAuth(value: unknown, prefix: string): ResolvedAuth {
  const bag = expectObject(value, `${prefix}auth`)!;
  const keys = Object.keys(bag);
  if (keys.length !== 1 || !['token', 'appRole', 'kubernetes'].includes(keys[0])) {
    throw new InvalidOptionError(`${prefix}auth`, "must have exactly one of 'token', 'appRole' or 'kubernetes'");
  }
  if (bag.token !== undefined) {
    return { kind: 'token', token: string(bag, 'token', `${prefix}auth.`)! };
  }
  if (bag.appRole !== undefined) {
    const p = `${prefix}auth.appRole.`;
    const appRole = expectObject(bag.appRole, `${prefix}auth.appRole`)!;
    rejectUnknownKeys(appRole, new Set(['roleId', 'secretId', 'mount']), p);
    const roleId = string(appRole, 'roleId', p);
    const secretId = string(appRole, 'secretId', p);
    if (roleId === undefined) throw new InvalidOptionError(`${p}roleId`, 'is required');
    if (secretId === undefined) throw new InvalidOptionError(`${p}secretId`, 'is required');
    return { kind: 'appRole', roleId, secretId, mount: vaultMount(appRole, 'mount', p, DEFAULT_APPROLE_MOUNT) };
  }
  const p = `${prefix}auth.kubernetes.`;
  const kubernetes = expectObject(bag.kubernetes, `${prefix}auth.kubernetes`)!;
  rejectUnknownKeys(kubernetes, new Set(['role', 'jwtPath', 'mount']), p);
  const role = string(kubernetes, 'role', p);
  if (role === undefined) throw new InvalidOptionError(`${p}role`, 'is required');
  return {
    kind: 'kubernetes',
    role,
    jwtPath: string(kubernetes, 'jwtPath', p, DEFAULT_KUBERNETES_JWT_PATH)!,
    mount: vaultMount(kubernetes, 'mount', p, DEFAULT_KUBERNETES_MOUNT),
  };
}

/**
 * Validates the `vault` and `client` options of a provider (found in `bag`, with `prefix` for
 * messages) and applies defaults.
 *
 * @throws InvalidOptionError naming the option, never echoing its value
 */
export function resolveSessionOptions(bag: Record<string, unknown>, prefix = ''): ResolvedSession {
  const client = bag.client;
  if (client !== undefined && !isNodeVaultClient(client)) {
    throw new InvalidOptionError(`${prefix}client`, 'must be a node-vault client (an object with read() and write())');
  }
  const vault = expectObject(bag.vault, `${prefix}vault`, client !== undefined) ?? {};
  if (bag.vault === undefined && client === undefined) {
    throw new InvalidOptionError(`${prefix}vault`, "is required unless 'client' is given");
  }
  const p = `${prefix}vault.`;
  rejectUnknownKeys(vault, new Set(['endpoint', 'namespace', 'auth', 'requestTimeoutMs']), p);
  if (client !== undefined) {
    for (const key of ['endpoint', 'namespace']) {
      if (vault[key] !== undefined)
        throw new InvalidOptionError(`${p}${key}`, "cannot be combined with 'client'; configure your client instead");
    }
  }
  const endpoint = string(vault, 'endpoint', p);
  if (client === undefined) {
    if (endpoint === undefined) throw new InvalidOptionError(`${p}endpoint`, 'is required');
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new InvalidOptionError(`${p}endpoint`, 'must be a URL such as https://vault.internal:8200');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new InvalidOptionError(`${p}endpoint`, 'must be an http: or https: URL');
    if (url.username !== '' || url.password !== '') throw new InvalidOptionError(`${p}endpoint`, 'must not contain credentials');
    if (vault.auth === undefined) throw new InvalidOptionError(`${p}auth`, "is required unless 'client' is given");
  }
  return {
    endpoint,
    namespace: string(vault, 'namespace', p),
    auth: vault.auth === undefined ? { kind: 'token', token: undefined } : resolveAuth(vault.auth, p),
    requestTimeoutMs: duration(vault, 'requestTimeoutMs', p, DEFAULT_VAULT_REQUEST_TIMEOUT_MS, 1),
    client: client as VaultSdkClient | undefined,
  };
}
