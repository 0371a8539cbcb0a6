/**
 * The agent's caching client: values kept for `ttlMs`, fetched from Secrets Manager with the
 * real SDK on a miss, an expiry or `refreshNow`. The agent checks an expired entry with
 * `DescribeSecret` and keeps it while its version still has the stage asked for; the Lambda
 * extension fetches it again.
 *
 * @packageDocumentation
 */

import { performance } from 'node:perf_hooks';
import type { SdkClient, SecretsManagerSdk } from '../../../providers/aws/sdk.js';
import type { LambdaExtensionFlavor } from './options.js';
import { ok, sdkErrorAnswer, type GetSecretValueJson, type HttpAnswer, type RequestRecord } from './protocol.js';

interface CacheEntry {
  readonly value: GetSecretValueJson;
  readonly storedAt: number;
}

/** @internal The SDK and a client of it, loaded on the first call. */
export type SdkClientSource = () => Promise<{ sdk: SecretsManagerSdk; client: SdkClient }>;

/** @internal The emulator's cache and its calls to Secrets Manager. */
export class SecretCache {
  /** Calls made to Secrets Manager. */
  readonly counts = { GetSecretValue: 0, DescribeSecret: 0 };
  readonly #entries = new Map<string, CacheEntry>();

  constructor(
    private readonly flavor: LambdaExtensionFlavor,
    private readonly ttlMs: number,
    private readonly sdkClient: SdkClientSource,
  ) {}

  /** Forgets every cached value. */
  clear(): void {
    this.#entries.clear();
  }

  /** The cache, then Secrets Manager, for the secret `record` names; records where the value came from. */
  async fetch(record: RequestRecord, refreshNow: boolean): Promise<HttpAnswer> {
    const { secretId, versionId, versionStage } = record as { secretId: string; versionId?: string; versionStage?: string };
    const key = JSON.stringify([secretId, versionId ?? null, versionStage ?? null]);
    const cached = this.ttlMs > 0 ? this.#entries.get(key) : undefined;
    try {
      if (cached && !refreshNow) {
        if (performance.now() - cached.storedAt < this.ttlMs) {
          record.source = 'cache';
          return ok(cached.value);
        }
        if (this.flavor !== 'lambda-extension' && (await this.#stillCurrent(cached.value, versionId, versionStage))) {
          this.#store(key, cached.value);
          record.source = 'cache';
          return ok(cached.value);
        }
      }
      record.source = 'secrets-manager';
      const value = await this.#getSecretValue(secretId, versionId, versionStage);
      this.#store(key, value);
      return ok(value);
    } catch (error) {
      return sdkErrorAnswer(error, this.flavor);
    }
  }

  #store(key: string, value: GetSecretValueJson): void {
    if (this.ttlMs > 0) this.#entries.set(key, { value, storedAt: performance.now() });
  }

  /** The agent's check of an expired entry: does its version still exist with the stage asked for? */
  async #stillCurrent(value: GetSecretValueJson, versionId: string | undefined, versionStage: string | undefined): Promise<boolean> {
    const { sdk, client } = await this.sdkClient();
    this.counts.DescribeSecret += 1;
    const described = await client.send(new sdk.DescribeSecretCommand({ SecretId: value.ARN ?? value.Name }));
    const stages = described.VersionIdsToStages;
    if (!stages) return false;
    if (versionId !== undefined && versionStage === undefined) return versionId in stages;
    const id = versionId ?? value.VersionId;
    const stage = versionStage ?? 'AWSCURRENT';
    return id !== undefined && (stages[id] ?? []).includes(stage);
  }

  async #getSecretValue(secretId: string, versionId: string | undefined, versionStage: string | undefined): Promise<GetSecretValueJson> {
    const { sdk, client } = await this.sdkClient();
    this.counts.GetSecretValue += 1;
    const out = await client.send(new sdk.GetSecretValueCommand({ SecretId: secretId, VersionId: versionId, VersionStage: versionStage }));
    const value: GetSecretValueJson = { ARN: out.ARN, Name: out.Name, VersionId: out.VersionId };
    if (out.SecretString !== undefined) value.SecretString = out.SecretString;
    if (out.SecretBinary !== undefined) value.SecretBinary = Buffer.from(out.SecretBinary).toString('base64');
    if (out.VersionStages !== undefined) value.VersionStages = out.VersionStages;
    // The agent writes CreatedDate as a string of epoch seconds with a fraction.
    if (out.CreatedDate !== undefined) value.CreatedDate = (out.CreatedDate.getTime() / 1000).toFixed(3);
    return value;
  }
}
