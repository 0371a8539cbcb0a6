/**
 * The options of {@link startSecretsManagerEmulator}, their defaults and their validation, and
 * the client configuration it hands out.
 *
 * @packageDocumentation
 */

import { InvalidOptionError } from '../../errors.js';
import { bool, expectObject, integer, rejectUnknownKeys, string } from '../../options.js';

/**
 * Default of {@link SecretsManagerEmulatorOptions.region}: `'us-east-1'`.
 * @example
 * ```ts
 * const emulator = await startSecretsManagerEmulator({ region: DEFAULT_EMULATOR_REGION });
 * ```
 */
export const DEFAULT_EMULATOR_REGION = 'us-east-1';

/**
 * Default of {@link SecretsManagerEmulatorOptions.accountId}: `'123456789012'`, the account
 * AWS's documentation uses in examples.
 * @example
 * ```ts
 * const arnPrefix = `arn:aws:secretsmanager:us-east-1:${DEFAULT_EMULATOR_ACCOUNT_ID}:secret:`;
 * ```
 */
export const DEFAULT_EMULATOR_ACCOUNT_ID = '123456789012';

/**
 * Default of {@link SecretsManagerEmulatorOptions.accessKeyId}: the example access key id
 * from AWS's documentation. Not a real key.
 * @example
 * ```ts
 * new SecretsManagerClient({ ...emulator.clientConfig(), credentials: { accessKeyId: DEFAULT_EMULATOR_ACCESS_KEY_ID, secretAccessKey: 'wrong' } });
 * ```
 */
export const DEFAULT_EMULATOR_ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';

/**
 * Default of {@link SecretsManagerEmulatorOptions.secretAccessKey}: the example secret access
 * key from AWS's documentation. Not a real key.
 * @example
 * ```ts
 * const credentials = { accessKeyId: DEFAULT_EMULATOR_ACCESS_KEY_ID, secretAccessKey: DEFAULT_EMULATOR_SECRET_ACCESS_KEY };
 * ```
 */
export const DEFAULT_EMULATOR_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

/** Options of {@link startSecretsManagerEmulator}. Unknown keys are rejected. */
export interface SecretsManagerEmulatorOptions {
  /**
   * The region the emulator pretends to be in: it appears in ARNs and requests must be signed
   * for it.
   * @defaultValue `'us-east-1'` ({@link DEFAULT_EMULATOR_REGION})
   */
  region?: string;
  /**
   * The 12-digit account id that appears in ARNs.
   * @defaultValue `'123456789012'` ({@link DEFAULT_EMULATOR_ACCOUNT_ID})
   */
  accountId?: string;
  /**
   * The only access key id the emulator knows; requests signed with another one fail with
   * `UnrecognizedClientException`.
   * @defaultValue {@link DEFAULT_EMULATOR_ACCESS_KEY_ID}
   */
  accessKeyId?: string;
  /**
   * The secret access key that belongs to `accessKeyId`; signatures made with another key
   * fail with `InvalidSignatureException`.
   * @defaultValue {@link DEFAULT_EMULATOR_SECRET_ACCESS_KEY}
   */
  secretAccessKey?: string;
  /**
   * Address to listen on. Keep it on loopback: the emulator has no real authentication.
   * @defaultValue `'127.0.0.1'`
   */
  host?: string;
  /**
   * TCP port to listen on; `0` picks a free one.
   * @defaultValue `0`
   */
  port?: number;
  /**
   * Whether requests must carry a valid SigV4 signature. With `false`, any request is served,
   * signed or not.
   * @defaultValue `true`
   */
  requireSignature?: boolean;
}

/** The configuration {@link SecretsManagerEmulator.clientConfig} returns, for `new SecretsManagerClient(...)`. */
export type EmulatorClientConfig = {
  region: string;
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
};

const OPTION_KEYS = new Set(['region', 'accountId', 'accessKeyId', 'secretAccessKey', 'host', 'port', 'requireSignature']);

/** Validates the options of {@link startSecretsManagerEmulator} and fills in the defaults. */
export function resolveEmulatorOptions(options: SecretsManagerEmulatorOptions): Required<SecretsManagerEmulatorOptions> {
  const bag = expectObject(options, 'options') ?? {};
  rejectUnknownKeys(bag, OPTION_KEYS, '');
  const region = string(bag, 'region', '', DEFAULT_EMULATOR_REGION)!;
  if (!/^[a-z0-9-]+$/.test(region)) throw new InvalidOptionError('region', 'must be a region name such as us-east-1');
  const accountId = string(bag, 'accountId', '', DEFAULT_EMULATOR_ACCOUNT_ID)!;
  if (!/^\d{12}$/.test(accountId)) throw new InvalidOptionError('accountId', 'must be 12 digits');
  const accessKeyId = string(bag, 'accessKeyId', '', DEFAULT_EMULATOR_ACCESS_KEY_ID)!;
  const secretAccessKey = string(bag, 'secretAccessKey', '', DEFAULT_EMULATOR_SECRET_ACCESS_KEY)!;
  const host = string(bag, 'host', '', '127.0.0.1')!;
  const port = integer(bag, 'port', '', 0, 0);
  if (port > 65535) throw new InvalidOptionError('port', 'must be at most 65535');
  const requireSignature = bool(bag, 'requireSignature', '', true);
  return { region, accountId, accessKeyId, secretAccessKey, host, port, requireSignature };
}
