/**
 * One invocation of a rotation handler: one step of one rotation of one secret. What every step
 * and strategy needs: the secret's versions, logins to the database, a log that never shows a
 * password, and the error a failed step throws.
 *
 * @packageDocumentation
 */

import { InvalidCredentialsError, InvalidOptionError, CredswapError, describeCause } from '../../../lib/errors.js';
import { redactError, redactText, sqlEscaped } from '../../../lib/redact.js';
import { RotationStepError } from '../errors.js';
import { AWSCURRENT, AWSPENDING, type ParsedSecret } from '../secret-json.js';
import type { StepRequest } from './event.js';
import type { RotationSettings } from './options.js';
import type { RotationSecrets } from './secrets.js';
import { close, connect, type Connection, type Login } from './sql.js';

const DEFAULT_MYSQL_PORT = 3306;

/** A step failure that already says what went wrong; wrapped as is into a RotationStepError. */
export class StepProblem extends Error {
  constructor(
    message: string,
    readonly user?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** What sets single-user, alternating-users and dual-password rotation apart. */
export interface RotationStrategy {
  /** createSecret: the user name of the pending secret, given the current one. */
  pendingUser(invocation: Invocation, currentUser: string): string;
  /** setSecret: makes the pending credentials valid in the database. */
  setSecret(invocation: Invocation): Promise<void>;
  /**
   * finishSecret, once AWSCURRENT is on the token's version: what the database still has to
   * do. Runs again when a retried finishSecret finds AWSCURRENT moved already, so it must be
   * idempotent.
   */
  afterFinish?(invocation: Invocation): Promise<void>;
}

/** The secrets setSecret works with: AWSCURRENT, this rotation's AWSPENDING and its login. */
export interface PendingChange {
  readonly current: ParsedSecret;
  readonly pending: ParsedSecret;
  readonly pendingLogin: Login;
}

export class Invocation {
  readonly settings: RotationSettings;
  readonly secretId: string;
  /** The version being rotated to. */
  readonly token: string;
  readonly request: StepRequest;
  readonly secrets: RotationSecrets;
  /** Every password this invocation has seen, to scrub from any error before it leaves. */
  readonly passwords: Set<string>;

  /** @param passwords - the set `secrets` adds every password it reads or generates to. */
  constructor(settings: RotationSettings, request: StepRequest, secrets: RotationSecrets, passwords: Set<string>) {
    this.settings = settings;
    this.request = request;
    this.secretId = request.secretId;
    this.token = request.token;
    this.secrets = secrets;
    this.passwords = passwords;
  }

  /** A version of the secret being rotated, by stage (and version id). */
  secret(stage: string, versionId?: string): Promise<ParsedSecret> {
    return this.secrets.get(this.secretId, stage, versionId);
  }

  /**
   * setSecret's first look: AWSCURRENT and this rotation's AWSPENDING, or `undefined` when the
   * AWSPENDING password already logs in (an earlier attempt set it) and there is nothing to do.
   */
  async pendingToSet(): Promise<PendingChange | undefined> {
    const current = await this.secret(AWSCURRENT);
    const pending = await this.secret(AWSPENDING, this.token);
    const pendingLogin = this.login(pending, 'AWSPENDING');
    if (await this.canLogIn(pendingLogin)) {
      this.info(`setSecret: the AWSPENDING password already works for user '${pendingLogin.user}'`);
      return undefined;
    }
    return { current, pending, pendingLogin };
  }

  /**
   * Where to log in with a secret; the `host`/`port` options win, then the secret's, then
   * `fallback`'s. `source` names the secret and stage in a message about a missing host.
   */
  login(secret: ParsedSecret, source: string, fallback?: ParsedSecret): Login {
    const c = secret.credentials;
    const host = this.settings.host ?? c.host ?? fallback?.credentials.host;
    if (host === undefined) {
      throw new InvalidCredentialsError(`secret '${this.secretId}' (${source})`, "'host' is missing (or set the handler's host option)", {
        key: 'host',
      });
    }
    return {
      user: c.user,
      password: c.password,
      host,
      port: this.settings.port ?? c.port ?? fallback?.credentials.port ?? DEFAULT_MYSQL_PORT,
      database: c.database,
    };
  }

  /** A connection with `login`; a failure is scrubbed of every password seen. */
  async connect(login: Login): Promise<Connection> {
    try {
      return await connect(login, this.settings);
    } catch (error) {
      throw redactError(error, this.passwords, [sqlEscaped]);
    }
  }

  /** True when the login works; the connection is closed again at once. */
  async canLogIn(login: Login): Promise<boolean> {
    try {
      await close(await this.connect(login));
      return true;
    } catch {
      return false;
    }
  }

  info(message: string): void {
    this.#log('info', message);
  }

  warn(message: string): void {
    this.#log('warn', message);
  }

  #log(level: 'info' | 'warn', message: string): void {
    try {
      this.settings.logger?.[level]?.(
        `credswap rotation of secret '${this.secretId}': ${redactText(message, this.passwords, [sqlEscaped])}`,
      );
    } catch {
      // A failing logger must not fail the rotation.
    }
  }
}

/**
 * What a failed step throws: `error` wrapped into a RotationStepError naming the secret, step
 * and user, with every password in `passwords` removed.
 */
export function stepError(request: StepRequest, error: unknown, passwords: Set<string>): unknown {
  if (error instanceof RotationStepError) return error;
  redactError(error, passwords, [sqlEscaped]);
  const cause = error instanceof StepProblem ? error.cause : error;
  const problem =
    error instanceof StepProblem ? (cause === undefined ? error.message : `${error.message}: ${describe(cause)}`) : describe(error);
  return new RotationStepError(request.secretId, request.step, redactText(problem, passwords, [sqlEscaped]), {
    user: error instanceof StepProblem ? error.user : undefined,
    cause,
  });
}

/** A cause for a message: credswap's own errors by their message, others by name, code and message. */
function describe(error: unknown): string {
  return error instanceof CredswapError || error instanceof InvalidOptionError
    ? error.message.replace(/^credswap: /, '')
    : describeCause(error);
}
