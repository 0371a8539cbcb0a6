/**
 * How the emulator answers a request: the route it resolves to, counted and recorded, then the
 * faults injected, the seal, the token check and the route's handler.
 *
 * @packageDocumentation
 */

import type { Faults } from './faults.js';
import { errorReply, MISSING_TOKEN, SEALED, VAULT_INVALID_TOKEN_ERROR, type HandlerResult, type VaultHttpRequest } from './http.js';
import { resolve, UNSUPPORTED_OPERATION, type Resolution } from './routes.js';
import type { VaultState } from './state.js';
import { asError } from './tokens.js';

/** One request the emulator received, as {@link VaultEmulator.requests} lists it. */
export interface VaultRequestRecord {
  /** `GET`, `HEAD`, `POST` (also for `PUT`), `DELETE` or `LIST`. */
  readonly method: string;
  /** The path after `/v1/`, e.g. `database/creds/app`. */
  readonly path: string;
  /** The route it was counted under, e.g. `database/creds/:role` (`unknown` for none). */
  readonly route: string;
  /** The `X-Vault-Namespace` header, if any. */
  readonly namespace: string | undefined;
  /** The status answered; 0 for a dropped connection, `undefined` while unanswered. */
  readonly status: number | undefined;
}

/**
 * How many requests {@link VaultEmulator.requests} keeps (the most recent).
 *
 * @example
 * ```ts
 * assert.ok(vault.requests.length <= VAULT_EMULATOR_MAX_RECORDED_REQUESTS);
 * ```
 */
export const VAULT_EMULATOR_MAX_RECORDED_REQUESTS = 1000;

/** @internal Answers the requests of one emulator, counts them per route and keeps the latest. */
export class RequestHandler {
  private readonly callCounts = new Map<string, number>();
  private log: Array<{ -readonly [K in keyof VaultRequestRecord]: VaultRequestRecord[K] }> = [];
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(
    private readonly state: VaultState,
    private readonly faults: Faults,
  ) {}

  /** See {@link VaultEmulator.calls}. */
  get calls(): Readonly<Record<string, number>> {
    return Object.freeze(Object.fromEntries(this.callCounts));
  }

  /** See {@link VaultEmulator.requests}. */
  get requests(): readonly VaultRequestRecord[] {
    return Object.freeze(this.log.map((record) => Object.freeze({ ...record })));
  }

  /** See {@link VaultEmulator.resetCalls}. */
  reset(): void {
    this.callCounts.clear();
    this.log = [];
  }

  /** Answers one request (called by the HTTP server). */
  readonly handle = async (request: VaultHttpRequest): Promise<HandlerResult> => {
    if (this.state.closed) return 'drop';
    const resolution = resolve(this.state, request.path);
    const route = 'route' in resolution ? resolution.route.name : resolution.name;
    this.callCounts.set(route, (this.callCounts.get(route) ?? 0) + 1);
    const record = {
      method: request.method,
      path: request.path,
      route,
      namespace: request.namespace,
      status: undefined as number | undefined,
    };
    this.log.push(record);
    if (this.log.length > VAULT_EMULATOR_MAX_RECORDED_REQUESTS) this.log.shift();
    const answer = this.answer(request, resolution, route);
    this.inflight.add(answer);
    try {
      const result = await answer;
      record.status = result === 'drop' ? 0 : result.status;
      return result;
    } finally {
      this.inflight.delete(answer);
    }
  };

  /** Resolves once the requests under way have been answered. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
  }

  private async answer(request: VaultHttpRequest, resolution: Resolution, route: string): Promise<HandlerResult> {
    const { latencyMs, action } = this.faults.take(route, request.path);
    if (latencyMs > 0 && !(await this.state.timers.sleep(latencyMs))) return 'drop';
    if (this.state.closed || action?.kind === 'drop') return 'drop';
    if (action?.kind === 'status') return errorReply(action.statusCode, ...action.errors);
    if (this.state.sealed && route !== 'sys/health') return errorReply(503, SEALED);
    if (!('route' in resolution)) return resolution.reply;
    const handler = resolution.route.handlers[request.method];
    if (handler === undefined) return UNSUPPORTED_OPERATION;
    let token;
    if (resolution.route.authenticated) {
      if (request.token === undefined) return errorReply(403, MISSING_TOKEN);
      token = this.state.tokens.get(request.token);
      if (token === undefined) return errorReply(403, VAULT_INVALID_TOKEN_ERROR);
    }
    try {
      return await handler({ state: this.state, request, params: resolution.route.params, token });
    } catch (error) {
      return errorReply(500, `1 error occurred:\n\t* ${asError(error).message}\n\n`);
    }
  }
}
