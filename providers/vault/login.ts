/**
 * How each login method gets a token: `lookup-self` for a token given as is, `auth/<mount>/login`
 * for AppRole and Kubernetes (with the service account token read from its file every time).
 * The session decides when; these functions only ask.
 *
 * @packageDocumentation
 */

import { readFile } from 'node:fs/promises';
import { VaultError } from './errors.js';
import { deadTokenError, isInvalidToken, toVaultError } from './errors.js';
import type { ResolvedAuth, VaultSdkClient } from './options.js';

/** What each request passes to node-vault: its time limit and the session's token. */
export interface VaultRequestOptions {
  timeout: number;
  headers: Record<string, string>;
}

/** Sends one node-vault call under the session's time limits, with `token` (none for a login). */
export type VaultSend = <T>(
  path: string,
  call: (client: VaultSdkClient, options: VaultRequestOptions) => Promise<T>,
  token: string | undefined,
) => Promise<T>;

/** A token as Vault described it, before the session adopts it. */
export interface IssuedToken {
  readonly id: string;
  /** Seconds left (0: never expires). */
  readonly ttlS: number;
  /** What to ask for at each renewal, seconds. */
  readonly incrementS: number;
  readonly renewable: boolean;
}

/** The answer of a login or renewal, as node-vault resolves it. */
interface AuthAnswer {
  auth?: { client_token?: string; lease_duration?: number; renewable?: boolean } | null;
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

/**
 * Describes a token given as is (`auth/token/lookup-self`). A token Vault refuses is a
 * non-retryable error: token auth has no way to get another.
 */
export async function lookUpToken(send: VaultSend, id: string, redact: (text: string) => string): Promise<IssuedToken> {
  const path = 'auth/token/lookup-self';
  const answer = await send(
    path,
    (client, options) => client.tokenLookupSelf({ requestOptions: options }) as Promise<{ data?: Record<string, unknown> }>,
    id,
  ).catch((error: unknown) => {
    if (isInvalidToken(error)) throw deadTokenError(path, toVaultError(path, error, redact));
    throw toVaultError(path, error, redact);
  });
  const data = answer.data ?? {};
  const ttlS = numberOr(data.ttl, 0);
  return { id, ttlS, incrementS: numberOr(data.creation_ttl, ttlS) || ttlS, renewable: data.renewable === true && ttlS > 0 };
}

/**
 * Logs in with AppRole or Kubernetes and returns the new token. `remember` is given every
 * secret seen (the JWT, the token) so that messages can be scrubbed of them.
 */
export async function logIn(
  auth: Exclude<ResolvedAuth, { kind: 'token' }>,
  send: VaultSend,
  remember: (secret: string) => void,
  redact: (text: string) => string,
): Promise<IssuedToken> {
  const path = `auth/${auth.mount}/login`;
  let jwt: string | undefined;
  if (auth.kind === 'kubernetes') {
    jwt = await readJwt(auth.jwtPath, path);
    remember(jwt);
  }
  const answer = await send(
    path,
    (client, options) => {
      // Login paths take no token; node-vault would otherwise send the client's.
      client.token = undefined as unknown as string;
      return (
        auth.kind === 'appRole'
          ? client.approleLogin({ role_id: auth.roleId, secret_id: auth.secretId, mount_point: auth.mount, requestOptions: options })
          : // node-vault's kubernetesLogin ignores its configured mount: pass it explicitly.
            client.kubernetesLogin({ role: auth.role, jwt, mount_point: auth.mount, requestOptions: options })
      ) as Promise<AuthAnswer>;
    },
    undefined,
  ).catch((error: unknown) => {
    throw toVaultError(path, error, redact);
  });
  const id = answer.auth?.client_token;
  if (typeof id !== 'string' || id === '') {
    throw new VaultError(path, 'the login answer has no client_token', { statusCode: 200, retryable: false });
  }
  remember(id);
  const ttlS = numberOr(answer.auth?.lease_duration, 0);
  return { id, ttlS, incrementS: ttlS, renewable: answer.auth?.renewable === true && ttlS > 0 };
}

/** Renews a token by `incrementS` (`auth/token/renew-self`); resolves with the seconds granted and whether it stays renewable. */
export async function renewToken(send: VaultSend, id: string, incrementS: number): Promise<{ ttlS: number; renewable: boolean }> {
  const answer = await send(
    'auth/token/renew-self',
    (client, options) => client.tokenRenewSelf({ increment: incrementS, requestOptions: options }) as Promise<AuthAnswer>,
    id,
  );
  return { ttlS: numberOr(answer.auth?.lease_duration, 0), renewable: answer.auth?.renewable !== false };
}

/** The service account token, read from its file (the kubelet rotates it, so at every login). */
async function readJwt(jwtPath: string, loginPath: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(jwtPath, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new VaultError(
      loginPath,
      `cannot read the service account token file '${jwtPath}'${typeof code === 'string' ? ` (${code})` : ''}`,
      {
        retryable: code !== 'ENOENT' && code !== 'EACCES' && code !== 'EISDIR',
        cause: Object.assign(new Error(typeof code === 'string' ? code : 'read failed'), { code }),
      },
    );
  }
  const jwt = text.trim();
  if (jwt === '') throw new VaultError(loginPath, `the service account token file '${jwtPath}' is empty`, { retryable: true });
  return jwt;
}
