/**
 * KV version 2 secrets: versioned writes with check-and-set, reads of the current or a given
 * version, metadata, and metadata deletion (all versions), with the shapes of Vault's `kv`
 * plugin (`<mount>/data/<path>`, `<mount>/metadata/<path>`).
 *
 * @packageDocumentation
 */

interface Version {
  readonly data: Record<string, unknown>;
  readonly createdTime: string;
}

interface Secret {
  readonly createdTime: string;
  updatedTime: string;
  readonly versions: Version[];
}

/** A version's metadata, as `data.metadata` of a read or `data` of a write. */
export interface KvVersionMetadata {
  created_time: string;
  custom_metadata: null;
  deletion_time: string;
  destroyed: boolean;
  version: number;
}

export type KvWriteResult = { readonly ok: true; readonly metadata: KvVersionMetadata } | { readonly ok: false; readonly error: string };

export class KvStore {
  private readonly mounts = new Map<string, Map<string, Secret>>();

  constructor(mounts: readonly string[]) {
    for (const mount of mounts) this.addMount(mount);
  }

  addMount(mount: string): void {
    if (!this.mounts.has(mount)) this.mounts.set(mount, new Map());
  }

  hasMount(mount: string): boolean {
    return this.mounts.has(mount);
  }

  /** Writes a new version; with `cas`, only when it equals the current version (0: only if new). */
  write(mount: string, path: string, data: Record<string, unknown>, cas?: number): KvWriteResult {
    const secrets = this.mount(mount);
    const secret = secrets.get(path);
    const current = secret?.versions.length ?? 0;
    if (cas !== undefined && cas !== current) {
      return { ok: false, error: 'check-and-set parameter did not match the current version' };
    }
    const createdTime = new Date().toISOString();
    const target = secret ?? { createdTime, updatedTime: createdTime, versions: [] };
    target.versions.push({ data: structuredClone(data), createdTime });
    target.updatedTime = createdTime;
    secrets.set(path, target);
    return { ok: true, metadata: versionMetadata(target.versions.at(-1)!, target.versions.length) };
  }

  /** The current version (or `version`, when > 0), or `undefined` when there is none. */
  read(mount: string, path: string, version = 0): { data: Record<string, unknown>; metadata: KvVersionMetadata } | undefined {
    const secret = this.mount(mount).get(path);
    if (secret === undefined) return undefined;
    const number = version > 0 ? version : secret.versions.length;
    const found = secret.versions[number - 1];
    if (found === undefined) return undefined;
    return { data: structuredClone(found.data), metadata: versionMetadata(found, number) };
  }

  /** The secret's metadata, or `undefined`. */
  metadata(mount: string, path: string): Record<string, unknown> | undefined {
    const secret = this.mount(mount).get(path);
    if (secret === undefined) return undefined;
    const versions: Record<string, unknown> = {};
    secret.versions.forEach((v, i) => {
      versions[String(i + 1)] = { created_time: v.createdTime, deletion_time: '', destroyed: false };
    });
    return {
      cas_required: false,
      created_time: secret.createdTime,
      current_version: secret.versions.length,
      custom_metadata: null,
      delete_version_after: '0s',
      max_versions: 0,
      oldest_version: 0,
      updated_time: secret.updatedTime,
      versions,
    };
  }

  /** Deletes the secret and every version of it. */
  deleteMetadata(mount: string, path: string): void {
    this.mount(mount).delete(path);
  }

  private mount(mount: string): Map<string, Secret> {
    let secrets = this.mounts.get(mount);
    if (secrets === undefined) this.mounts.set(mount, (secrets = new Map()));
    return secrets;
  }
}

function versionMetadata(version: Version, number: number): KvVersionMetadata {
  return { created_time: version.createdTime, custom_metadata: null, deletion_time: '', destroyed: false, version: number };
}
