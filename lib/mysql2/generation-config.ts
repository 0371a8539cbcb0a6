/**
 * The mysql2 connection settings a pool opens connections with: the user's options, with the
 * credentials of the current generation.
 *
 * @packageDocumentation
 */

import type { CredentialsSnapshot } from '../coordinator.js';
import { ConnectionConfig, derivedOptions, hideSecrets, type Mysql2ConnectionConfig } from './internals.js';

/** mysql2 ConnectionConfigs per generation of credentials, the newest one cached. */
export class GenerationConfigs {
  /** The user's options as mysql2 reads them (no credentials from a provider). */
  readonly base: Mysql2ConnectionConfig;
  readonly #options: Record<string, unknown>;
  #cached: { generation: number; config: Mysql2ConnectionConfig } | undefined;

  constructor(mysqlOptions: Record<string, unknown>) {
    this.#options = mysqlOptions;
    this.base = hideSecrets(new ConnectionConfig(mysqlOptions));
  }

  /** The settings for `snapshot`'s credentials ({@link base} without). */
  for(snapshot: CredentialsSnapshot | undefined): Mysql2ConnectionConfig {
    if (!snapshot) return this.base;
    const cached = this.#cached;
    if (cached && cached.generation === snapshot.generation) return cached.config;
    const { user, password, host, port, database } = snapshot.credentials;
    // Inherits the user's options: mysql2 warned about keys it ignores once, for `base`.
    const config = hideSecrets(
      new ConnectionConfig(
        derivedOptions(this.#options, {
          user,
          password,
          ...(host !== undefined ? { host } : {}),
          ...(port !== undefined ? { port } : {}),
          ...(database !== undefined ? { database } : {}),
        }),
      ),
    );
    this.#cached = { generation: snapshot.generation, config };
    return config;
  }
}
