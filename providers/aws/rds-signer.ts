/**
 * The one place that loads `@aws-sdk/rds-signer`, lazily: importing `credswap/aws` does not load
 * it, the first token does. Loaded with `require` first, so that Lambda's copy of the AWS SDK on
 * `NODE_PATH` is found.
 *
 * @packageDocumentation
 */

import { loadOptionalPeer } from '../../lib/optional.js';

/** @internal The package's name, as the error for a missing peer names it. */
export const RDS_SIGNER_PACKAGE = '@aws-sdk/rds-signer';

/**
 * AWS credentials to sign tokens with, typed by shape so that credswap's declarations compile
 * without the AWS SDK: fixed keys (`AwsCredentialIdentity`) or a function that resolves them
 * (`AwsCredentialIdentityProvider`, such as `fromTemporaryCredentials(...)` of
 * `@aws-sdk/credential-providers`).
 */
export type RdsSignerCredentials =
  | { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string; readonly expiration?: Date }
  | ((...args: never[]) => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string; expiration?: Date }>);

/** @internal What credswap gives the SDK's `Signer` (its `SignerConfig`, by shape). */
export interface RdsSignerConfig {
  hostname: string;
  port: number;
  username: string;
  region?: string;
  profile?: string;
  credentials?: RdsSignerCredentials;
}

/** @internal A signer of the loaded SDK. */
export interface RdsSignerLike {
  getAuthToken(): Promise<string>;
}

/** @internal The parts of the module credswap uses. */
interface RdsSignerModule {
  Signer: new (config: RdsSignerConfig) => RdsSignerLike;
  default?: RdsSignerModule;
}

let loading: Promise<RdsSignerModule> | undefined;

/**
 * @internal Loads `@aws-sdk/rds-signer` once per process. A missing package rejects with a
 * `MissingDependencyError` naming it; a later call tries again (the rejection is not cached).
 */
export function loadRdsSigner(neededBy = 'RdsIamProvider'): Promise<RdsSignerModule> {
  loading ??= loadOptionalPeer<RdsSignerModule>(RDS_SIGNER_PACKAGE, neededBy).then(
    // From import(), a CommonJS package's exports may sit under `default`.
    (mod) => (typeof mod.Signer === 'function' ? mod : (mod.default as RdsSignerModule)),
    (error: unknown) => {
      loading = undefined;
      throw error;
    },
  );
  return loading;
}

/** @internal A signer for `config`, once the SDK is loaded. */
export async function newRdsSigner(config: RdsSignerConfig, neededBy?: string): Promise<RdsSignerLike> {
  const { Signer } = await loadRdsSigner(neededBy);
  return new Signer(config);
}

/**
 * @internal When a token stops working: its `X-Amz-Date` plus `X-Amz-Expires` seconds, or
 * `undefined` when the token does not say (then the caller assumes the documented 15 minutes).
 */
export function tokenExpiry(token: string): number | undefined {
  const query = token.slice(token.indexOf('?') + 1);
  const params = new URLSearchParams(query);
  const date = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(params.get('X-Amz-Date') ?? '');
  const seconds = Number(params.get('X-Amz-Expires') ?? Number.NaN);
  if (!date || !Number.isInteger(seconds) || seconds <= 0) return undefined;
  const signedAt = Date.UTC(+date[1], +date[2] - 1, +date[3], +date[4], +date[5], +date[6]);
  return Number.isNaN(signedAt) ? undefined : signedAt + seconds * 1000;
}
