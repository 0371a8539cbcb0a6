/**
 * The secret store: secrets, their versions and how staging labels move between versions.
 *
 * @packageDocumentation
 */

import { randomInt } from 'node:crypto';
import { reqString } from './input.js';
import { invalidRequest, MSG_MARKED_FOR_DELETION, notFound, validation } from './protocol.js';
import type { Input, Secret, Value, Version } from './types.js';

/**
 * How many versions a secret keeps, as in AWS: past this, the oldest versions without a
 * staging label ("deprecated" versions) are removed.
 * @example
 * ```ts
 * assert.ok(emulator.versions('prod/db').length <= SECRETS_MANAGER_MAX_VERSIONS);
 * ```
 */
export const SECRETS_MANAGER_MAX_VERSIONS = 100;

/** A version of a secret, as {@link SecretsManagerEmulator.versions} shows it. */
export interface EmulatedSecretVersion {
  readonly versionId: string;
  /** Its staging labels; empty for a deprecated version. */
  readonly stages: readonly string[];
  readonly createdDate: Date;
  readonly lastAccessedDate?: Date;
  /** `false` for the placeholder version `RotateSecret` creates before `createSecret` stores a value. */
  readonly hasValue: boolean;
}

/** What {@link SecretsManagerEmulator.putSecret} created. */
export interface PutSecretResult {
  readonly arn: string;
  readonly name: string;
  readonly versionId: string;
}

export const CURRENT = 'AWSCURRENT';
export const PENDING = 'AWSPENDING';
const PREVIOUS = 'AWSPREVIOUS';
export const DAY_MS = 24 * 60 * 60 * 1000;
const ARN_SUFFIX_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
export const NAME_PATTERN = /^[A-Za-z0-9/_+=.@-]{1,512}$/;

export function sameValue(version: Version, value: Value): boolean {
  if ('string' in value) return version.string === value.string && version.binary === undefined;
  return version.string === undefined && version.binary !== undefined && version.binary.equals(value.binary);
}

export function hasValue(version: Version): boolean {
  return version.string !== undefined || version.binary !== undefined;
}

/** The secrets of one emulator, by ARN. */
export class SecretStore {
  readonly #secrets = new Map<string, Secret>();

  constructor(
    private readonly region: string,
    private readonly accountId: string,
  ) {}

  /** Finds a secret by name, full ARN or partial ARN (the ARN without its 6-character suffix). */
  find(id: string): Secret | undefined {
    const now = Date.now();
    for (const [arn, secret] of this.#secrets) {
      if (secret.purgeAt !== undefined && secret.purgeAt <= now) this.#secrets.delete(arn);
    }
    if (id.startsWith('arn:')) {
      const exact = this.#secrets.get(id);
      if (exact) return exact;
      for (const secret of this.#secrets.values()) if (secret.arn.slice(0, -7) === id) return secret;
      return undefined;
    }
    for (const secret of this.#secrets.values()) if (secret.name === id) return secret;
    return undefined;
  }

  require(input: Input, allowDeleted = false): Secret {
    const id = reqString(input, 'SecretId', 'secretId');
    if (id.length > 2048) {
      throw validation(`Value at 'secretId' failed to satisfy constraint: Member must have length less than or equal to 2048`);
    }
    const secret = this.find(id);
    if (secret === undefined) throw notFound();
    if (!allowDeleted && secret.deleted !== undefined) throw invalidRequest(MSG_MARKED_FOR_DELETION);
    return secret;
  }

  newSecret(name: string): Secret {
    let suffix = '';
    for (let i = 0; i < 6; i++) suffix += ARN_SUFFIX_CHARS[randomInt(ARN_SUFFIX_CHARS.length)];
    const now = Date.now();
    const secret: Secret = {
      arn: `arn:aws:secretsmanager:${this.region}:${this.accountId}:secret:${name}-${suffix}`,
      name,
      created: now,
      lastChanged: now,
      versions: new Map(),
      rotationEnabled: false,
    };
    this.#secrets.set(secret.arn, secret);
    return secret;
  }

  versionWithStage(secret: Secret, stage: string): Version | undefined {
    for (const version of secret.versions.values()) if (version.stages.includes(stage)) return version;
    return undefined;
  }

  /**
   * Attaches `stage` to `target`, removing it from whichever version had it. Moving
   * `AWSCURRENT` away from a version gives that version `AWSPREVIOUS`.
   */
  attach(secret: Secret, stage: string, target: Version): void {
    const holder = this.versionWithStage(secret, stage);
    if (holder === target) return;
    if (holder) holder.stages = holder.stages.filter((s) => s !== stage);
    target.stages.push(stage);
    if (stage === CURRENT) {
      if (holder) {
        const previous = this.versionWithStage(secret, PREVIOUS);
        if (previous) previous.stages = previous.stages.filter((s) => s !== PREVIOUS);
        holder.stages.push(PREVIOUS);
      }
      target.stages = target.stages.filter((s) => s !== PREVIOUS);
    }
  }

  addVersion(secret: Secret, id: string, value: Value | undefined, stages: readonly string[]): Version {
    const version: Version = { id, stages: [], created: Date.now() };
    if (value && 'string' in value) version.string = value.string;
    if (value && 'binary' in value) version.binary = value.binary;
    secret.versions.set(id, version);
    for (const stage of stages) this.attach(secret, stage, version);
    secret.lastChanged = Date.now();
    this.#trimVersions(secret);
    return version;
  }

  /** Past {@link SECRETS_MANAGER_MAX_VERSIONS}, drops the oldest versions without a label. */
  #trimVersions(secret: Secret): void {
    for (const version of secret.versions.values()) {
      if (secret.versions.size <= SECRETS_MANAGER_MAX_VERSIONS) return;
      if (version.stages.length === 0) secret.versions.delete(version.id);
    }
  }

  touch(secret: Secret, version: Version): void {
    const now = Date.now();
    secret.lastAccessed = now;
    version.lastAccessed = now;
  }

  /** Removes a secret at once (`ForceDeleteWithoutRecovery`). */
  remove(secret: Secret): void {
    this.#secrets.delete(secret.arn);
  }
}
