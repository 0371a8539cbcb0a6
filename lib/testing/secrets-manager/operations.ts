/**
 * The operations on secrets: `CreateSecret`, `GetSecretValue`, `DescribeSecret`,
 * `PutSecretValue`, `UpdateSecretVersionStage`, `ListSecretVersionIds`, `DeleteSecret` and
 * `RestoreSecret`, each from a request's input to its output.
 *
 * @packageDocumentation
 */

import { randomUUID } from 'node:crypto';
import { checkStage, checkToken, optBool, optInt, optString, optStringList, readValue, reqString } from './input.js';
import { AwsError, invalidParameter, invalidRequest, MSG_MARKED_FOR_DELETION, notFound, serialization, validation } from './protocol.js';
import type { Rotations } from './rotations.js';
import { CURRENT, DAY_MS, hasValue, NAME_PATTERN, sameValue, type SecretStore } from './store.js';
import type { Input, Tag, Version } from './types.js';

/** Epoch ms → the wire's epoch seconds. */
const seconds = (ms: number): number => ms / 1000;
/** AWS reports `LastAccessedDate` rounded down to the day. */
const day = (ms: number): number => Math.floor(ms / DAY_MS) * DAY_MS;

export function createSecret(store: SecretStore, input: Input): Record<string, unknown> {
  const name = reqString(input, 'Name', 'name');
  if (!NAME_PATTERN.test(name)) {
    throw invalidParameter('Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!');
  }
  const token = optString(input, 'ClientRequestToken');
  if (token !== undefined) checkToken(token);
  const value = readValue(input);
  const description = optString(input, 'Description');
  const kmsKeyId = optString(input, 'KmsKeyId');
  const tags = input.Tags;
  if (tags !== undefined && tags !== null && (!Array.isArray(tags) || tags.some((t) => typeof t !== 'object' || t === null))) {
    throw serialization("Expected a list of tags for 'Tags'");
  }
  const existing = store.find(name);
  if (existing) {
    if (existing.deleted !== undefined) {
      throw invalidRequest("You can't create this secret because a secret with this name is already scheduled for deletion.");
    }
    const same = token !== undefined ? existing.versions.get(token) : undefined;
    if (same && value && sameValue(same, value)) {
      return { ARN: existing.arn, Name: existing.name, VersionId: same.id };
    }
    if (same) {
      throw new AwsError(
        'ResourceExistsException',
        `You can't use ClientRequestToken ${token} because that value is already in use for a version of secret ${existing.arn}.`,
      );
    }
    throw new AwsError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`);
  }
  const secret = store.newSecret(name);
  if (description !== undefined) secret.description = description;
  if (kmsKeyId !== undefined) secret.kmsKeyId = kmsKeyId;
  if (Array.isArray(tags)) secret.tags = (tags as Tag[]).map((t) => ({ Key: t.Key, Value: t.Value }));
  const output: Record<string, unknown> = { ARN: secret.arn, Name: secret.name };
  if (value) {
    const version = store.addVersion(secret, token ?? randomUUID(), value, [CURRENT]);
    output.VersionId = version.id;
  }
  return output;
}

export function getSecretValue(store: SecretStore, input: Input): Record<string, unknown> {
  const secret = store.require(input);
  const versionId = optString(input, 'VersionId');
  const stage = optString(input, 'VersionStage');
  let version: Version | undefined;
  if (versionId !== undefined) {
    version = secret.versions.get(versionId);
    if (version === undefined || !hasValue(version)) {
      throw new AwsError('ResourceNotFoundException', `Secrets Manager can't find the specified secret value for VersionId: ${versionId}`);
    }
    if (stage !== undefined && !version.stages.includes(stage)) {
      throw invalidRequest('You provided a VersionStage that is not associated to the provided VersionId.');
    }
  } else {
    const wanted = stage ?? CURRENT;
    version = store.versionWithStage(secret, wanted);
    if (version === undefined || !hasValue(version)) {
      throw new AwsError('ResourceNotFoundException', `Secrets Manager can't find the specified secret value for staging label: ${wanted}`);
    }
  }
  store.touch(secret, version);
  const output: Record<string, unknown> = {
    ARN: secret.arn,
    Name: secret.name,
    VersionId: version.id,
    VersionStages: [...version.stages],
    CreatedDate: seconds(version.created),
  };
  if (version.string !== undefined) output.SecretString = version.string;
  if (version.binary !== undefined) output.SecretBinary = version.binary.toString('base64');
  return output;
}

export function describeSecret(store: SecretStore, input: Input): Record<string, unknown> {
  const secret = store.require(input, true);
  const output: Record<string, unknown> = { ARN: secret.arn, Name: secret.name };
  if (secret.description !== undefined) output.Description = secret.description;
  if (secret.kmsKeyId !== undefined) output.KmsKeyId = secret.kmsKeyId;
  output.RotationEnabled = secret.rotationEnabled;
  if (secret.rotationLambdaArn !== undefined) output.RotationLambdaARN = secret.rotationLambdaArn;
  if (secret.rotationRules !== undefined) output.RotationRules = { ...secret.rotationRules };
  if (secret.lastRotated !== undefined) output.LastRotatedDate = seconds(secret.lastRotated);
  output.LastChangedDate = seconds(secret.lastChanged);
  if (secret.lastAccessed !== undefined) output.LastAccessedDate = seconds(day(secret.lastAccessed));
  if (secret.deleted !== undefined) output.DeletedDate = seconds(secret.deleted);
  if (secret.rotationEnabled && secret.nextRotation !== undefined) output.NextRotationDate = seconds(secret.nextRotation);
  if (secret.tags !== undefined) output.Tags = secret.tags.map((t) => ({ ...t }));
  const stages: Record<string, string[]> = {};
  for (const version of secret.versions.values()) {
    if (version.stages.length > 0) stages[version.id] = [...version.stages];
  }
  output.VersionIdsToStages = stages;
  output.CreatedDate = seconds(secret.created);
  return output;
}

export function putSecretValue(store: SecretStore, input: Input): Record<string, unknown> {
  const secret = store.require(input);
  const token = optString(input, 'ClientRequestToken') ?? randomUUID();
  checkToken(token);
  const value = readValue(input);
  if (value === undefined) throw invalidRequest('You must provide either SecretString or SecretBinary.');
  const requested = optStringList(input, 'VersionStages');
  if (requested !== undefined) {
    if (requested.length < 1 || requested.length > 20) {
      throw validation(`Value at 'versionStages' failed to satisfy constraint: Member must have length between 1 and 20`);
    }
    requested.forEach(checkStage);
  }
  optString(input, 'RotationToken');
  const stages = requested ?? [CURRENT];
  const existing = secret.versions.get(token);
  if (existing && hasValue(existing)) {
    if (!sameValue(existing, value)) {
      throw new AwsError(
        'ResourceExistsException',
        `You can't use ClientRequestToken ${token} because that value is already in use for a version of secret ${secret.arn}.`,
      );
    }
    return { ARN: secret.arn, Name: secret.name, VersionId: existing.id, VersionStages: [...existing.stages] };
  }
  let version: Version;
  if (existing) {
    // The placeholder RotateSecret created: createSecret fills it in.
    if ('string' in value) existing.string = value.string;
    else existing.binary = value.binary;
    for (const stage of stages) store.attach(secret, stage, existing);
    secret.lastChanged = Date.now();
    version = existing;
  } else {
    version = store.addVersion(secret, token, value, stages);
  }
  return { ARN: secret.arn, Name: secret.name, VersionId: version.id, VersionStages: [...version.stages] };
}

export function updateSecretVersionStage(store: SecretStore, input: Input): Record<string, unknown> {
  const secret = store.require(input);
  const stage = reqString(input, 'VersionStage', 'versionStage');
  checkStage(stage);
  const moveTo = optString(input, 'MoveToVersionId');
  const removeFrom = optString(input, 'RemoveFromVersionId');
  const holder = store.versionWithStage(secret, stage);
  const target = moveTo !== undefined ? secret.versions.get(moveTo) : undefined;
  if (moveTo !== undefined && target === undefined) {
    throw invalidParameter(`Secrets Manager can't find the specified secret version: ${moveTo}.`);
  }
  if (removeFrom !== undefined) {
    if (!secret.versions.has(removeFrom)) {
      throw invalidParameter(`Secrets Manager can't find the specified secret version: ${removeFrom}.`);
    }
    if (holder === undefined || holder.id !== removeFrom) {
      throw invalidParameter(
        `The parameter RemoveFromVersionId is invalid. Staging label ${stage} is ` +
          (holder ? `currently attached to version ${holder.id}, not to version ${removeFrom}.` : `not attached to version ${removeFrom}.`),
      );
    }
  } else if (holder !== undefined && target !== undefined && holder !== target) {
    throw invalidParameter(
      `The parameter RemoveFromVersionId can't be empty. Staging label ${stage} is currently attached to version ${holder.id}, ` +
        'so you must explicitly reference that version in RemoveFromVersionId.',
    );
  }
  if (target === undefined) {
    if (removeFrom === undefined) {
      throw invalidParameter('You must specify MoveToVersionId, RemoveFromVersionId, or both.');
    }
    if (stage === CURRENT) {
      throw invalidParameter(`You can't remove the staging label ${CURRENT} from a version without moving it to another version.`);
    }
    holder!.stages = holder!.stages.filter((s) => s !== stage);
  } else {
    if (!target.stages.includes(stage) && target.stages.length >= 20) {
      throw new AwsError('LimitExceededException', 'A version can have at most 20 staging labels.');
    }
    store.attach(secret, stage, target);
  }
  secret.lastChanged = Date.now();
  return { ARN: secret.arn, Name: secret.name };
}

export function listSecretVersionIds(store: SecretStore, input: Input): Record<string, unknown> {
  const secret = store.require(input, true);
  const includeDeprecated = optBool(input, 'IncludeDeprecated') ?? false;
  const max = optInt(input, 'MaxResults');
  if (max !== undefined && (max < 1 || max > 100)) {
    throw validation(`Value '${max}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 100`);
  }
  const nextToken = optString(input, 'NextToken');
  let start = 0;
  if (nextToken !== undefined) {
    start = Number.parseInt(Buffer.from(nextToken, 'base64').toString('utf8'), 10);
    if (!Number.isInteger(start) || start < 0) throw new AwsError('InvalidNextTokenException', 'The NextToken value is invalid.');
  }
  const all = [...secret.versions.values()].filter((v) => includeDeprecated || v.stages.length > 0);
  const page = all.slice(start, max === undefined ? undefined : start + max);
  const output: Record<string, unknown> = {
    Versions: page.map((v) => {
      const entry: Record<string, unknown> = { VersionId: v.id, VersionStages: [...v.stages], CreatedDate: seconds(v.created) };
      if (v.lastAccessed !== undefined) entry.LastAccessedDate = seconds(day(v.lastAccessed));
      if (secret.kmsKeyId !== undefined) entry.KmsKeyIds = [secret.kmsKeyId];
      return entry;
    }),
    ARN: secret.arn,
    Name: secret.name,
  };
  const next = start + page.length;
  if (next < all.length) output.NextToken = Buffer.from(String(next)).toString('base64');
  return output;
}

export function deleteSecret(store: SecretStore, rotations: Rotations, input: Input): Record<string, unknown> {
  const id = reqString(input, 'SecretId', 'secretId');
  const window = optInt(input, 'RecoveryWindowInDays');
  const force = optBool(input, 'ForceDeleteWithoutRecovery') ?? false;
  if (window !== undefined && force) {
    throw invalidParameter("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
  }
  if (window !== undefined && (window < 7 || window > 30)) {
    throw invalidParameter('The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).');
  }
  const secret = store.find(id);
  if (secret === undefined) throw notFound();
  if (secret.deleted !== undefined && !force) throw invalidRequest(MSG_MARKED_FOR_DELETION);
  const now = Date.now();
  rotations.cancel(secret);
  if (force) {
    store.remove(secret);
    return { ARN: secret.arn, Name: secret.name, DeletionDate: seconds(now) };
  }
  secret.deleted = now;
  secret.purgeAt = now + (window ?? 30) * DAY_MS;
  return { ARN: secret.arn, Name: secret.name, DeletionDate: seconds(secret.purgeAt) };
}

export function restoreSecret(store: SecretStore, input: Input): Record<string, unknown> {
  const secret = store.require(input, true);
  delete secret.deleted;
  delete secret.purgeAt;
  return { ARN: secret.arn, Name: secret.name };
}
