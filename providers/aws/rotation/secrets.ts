/**
 * The Secrets Manager calls a rotation makes: DescribeSecret, GetSecretValue, GetRandomPassword,
 * PutSecretValue and UpdateSecretVersionStage. Each failure is a `SecretsManagerError` naming
 * the secret; each password read or generated is remembered, so that it can be scrubbed from
 * whatever leaves the handler.
 *
 * @packageDocumentation
 */

import { SecretsManagerError } from '../errors.js';
import {
  asSdkClient,
  loadSecretsManagerSdk,
  newSdkClient,
  toSecretsManagerError,
  type SdkClient,
  type SecretsManagerClientConfig,
  type SecretsManagerClientLike,
  type SecretsManagerSdk,
} from '../sdk.js';
import { AWSCURRENT, AWSPENDING, parseSecretString, type ParsedSecret } from '../secret-json.js';

/** The loaded SDK and the client a handler sends its requests with. */
interface SdkAccess {
  readonly sdk: SecretsManagerSdk;
  readonly client: SdkClient;
}

/** What DescribeSecret says of a secret that a rotation needs. */
export interface SecretState {
  /** `false` when rotation is turned off; `undefined` when the answer did not say. */
  readonly rotationEnabled: boolean | undefined;
  /** The staging labels of each version id. */
  readonly versions: Record<string, string[]>;
}

/**
 * The Secrets Manager side of one invocation. The SDK's types stay in private members: the
 * published declarations compile without the SDK installed.
 */
export class RotationSecrets {
  readonly #sdk: SecretsManagerSdk;
  readonly #client: SdkClient;
  readonly #passwords: Set<string>;

  private constructor(access: SdkAccess, passwords: Set<string>) {
    this.#sdk = access.sdk;
    this.#client = access.client;
    this.#passwords = passwords;
  }

  /**
   * The Secrets Manager of one handler: returns a function that opens the calls of one
   * invocation, adding every password read or generated to `passwords`. The SDK loads on the
   * first call and the client (the user's `client`, or one created from `config`) is kept; a
   * failed load is not kept, so the next call tries again.
   */
  static forHandler(
    client: SecretsManagerClientLike | undefined,
    config: SecretsManagerClientConfig,
    neededBy: string,
  ): (passwords: Set<string>) => Promise<RotationSecrets> {
    let access: Promise<SdkAccess> | undefined;
    return async (passwords) => {
      access ??= loadSecretsManagerSdk(neededBy).then(
        (sdk) => ({ sdk, client: asSdkClient(client) ?? newSdkClient(sdk, config) }),
        (error: unknown) => {
          access = undefined;
          throw error;
        },
      );
      return new RotationSecrets(await access, passwords);
    };
  }

  async describe(secretId: string): Promise<SecretState> {
    const metadata = await this.#call(secretId, () => this.#client.send(new this.#sdk.DescribeSecretCommand({ SecretId: secretId })));
    return { rotationEnabled: metadata.RotationEnabled, versions: metadata.VersionIdsToStages ?? {} };
  }

  /** GetSecretValue and parse; remembers the password. */
  async get(secretId: string, stage: string, versionId?: string): Promise<ParsedSecret> {
    const result = await this.#call(secretId, () =>
      this.#client.send(new this.#sdk.GetSecretValueCommand({ SecretId: secretId, VersionStage: stage, VersionId: versionId })),
    );
    const parsed = parseSecretString(secretId, result.SecretString, { binary: result.SecretBinary !== undefined });
    this.#passwords.add(parsed.credentials.password);
    return parsed;
  }

  /** A new password from GetRandomPassword (remembered), or `undefined` when the answer had none. */
  async randomPassword(secretId: string, length: number, excludeCharacters: string): Promise<string | undefined> {
    const random = await this.#call(secretId, () =>
      this.#client.send(
        new this.#sdk.GetRandomPasswordCommand({
          PasswordLength: length,
          ExcludeCharacters: excludeCharacters,
          RequireEachIncludedType: true,
        }),
      ),
    );
    const password = random.RandomPassword;
    if (typeof password !== 'string' || password === '') return undefined;
    this.#passwords.add(password);
    return password;
  }

  /** Stores `value` as the version `token`, labelled AWSPENDING. */
  async putPending(secretId: string, token: string, value: Record<string, unknown>, rotationToken: string | undefined): Promise<void> {
    await this.#call(secretId, () =>
      this.#client.send(
        new this.#sdk.PutSecretValueCommand({
          SecretId: secretId,
          ClientRequestToken: token,
          SecretString: JSON.stringify(value),
          VersionStages: [AWSPENDING],
          ...(rotationToken !== undefined ? { RotationToken: rotationToken } : {}),
        }),
      ),
    );
  }

  /** Moves AWSCURRENT to the version `token`, from `fromVersion` (the service moves AWSPREVIOUS). */
  async moveCurrent(secretId: string, token: string, fromVersion: string | undefined): Promise<void> {
    await this.#call(secretId, () =>
      this.#client.send(
        new this.#sdk.UpdateSecretVersionStageCommand({
          SecretId: secretId,
          VersionStage: AWSCURRENT,
          MoveToVersionId: token,
          RemoveFromVersionId: fromVersion,
        }),
      ),
    );
  }

  /** Runs an SDK call and turns its failure into a SecretsManagerError for `secretId`. */
  async #call<T>(secretId: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw toSecretsManagerError(secretId, error);
    }
  }
}

/** No such secret, version or label. */
export function isNotFound(error: unknown): boolean {
  return error instanceof SecretsManagerError && error.awsError === 'ResourceNotFoundException';
}
