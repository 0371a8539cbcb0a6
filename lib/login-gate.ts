/**
 * Lockout-safe logins: how many logins may try a generation's credentials at once.
 *
 * Servers lock accounts after a few refused logins in a row (MySQL's `FAILED_LOGIN_ATTEMPTS`,
 * MariaDB's `max_password_errors`). A pool that opens ten connections at once with a password
 * that just changed would send ten refused logins, and lock the account for everyone. So
 * credentials that may be refused are tried by one login at a time: the others wait for its
 * answer, and a refusal is not repeated with the same credentials while the coordinator cools
 * down.
 *
 * @packageDocumentation
 */

/**
 * How long after a login worked the same credentials count as good, so that logins may run in
 * parallel without a first one going alone: 1 s.
 */
export const DEFAULT_LOGIN_TRUST_MS = 1_000;

/**
 * Logins that may try trusted credentials at the same time. Two: should the password change
 * under them, the server sees at most two refused logins before the others learn of it, fewer
 * than any lockout threshold that still lets a person mistype once (MySQL's
 * `FAILED_LOGIN_ATTEMPTS 3`). Untrusted credentials are tried by one login at a time.
 */
export const MAX_PARALLEL_LOGINS = 2;

/** What a login reports back through its ticket, once it knows. */
export interface LoginTicket {
  /** The login worked. */
  succeeded(): void;
  /** The server refused the credentials (1045): nobody tries them again before the coordinator's cooldown ends. */
  refused(error: Error): void;
  /** Anything else (the server unreachable, a timeout, the pool closing): says nothing about the credentials. */
  failed(): void;
}

interface Waiter {
  resolve(ticket: LoginTicket): void;
  reject(error: Error): void;
}

interface GenerationState {
  /** Logins may run in parallel until then (a login worked recently and nothing went wrong since). */
  trustedUntil: number;
  /** Logins under way with these credentials. */
  inFlight: number;
  readonly waiters: Waiter[];
  /** The server refused these credentials: logins fail without trying while the coordinator is busy or cooling down. */
  refused: Error | undefined;
}

const SETTLED: LoginTicket = { succeeded() {}, refused() {}, failed() {} };

/**
 * The logins of one account (one coordinator). A generation's credentials are *trusted* for
 * `trustMs` after a login with them worked; while they are, up to {@link MAX_PARALLEL_LOGINS}
 * logins run at once. Otherwise (new credentials, a quiet while, a connection the server
 * dropped, a refusal) one login goes first and the others wait for its answer: it worked, and
 * they follow; it was refused, and they fail at once with a copy of the refusal (the pool then
 * asks the coordinator for credentials instead of trying these).
 */
export class LoginGate {
  readonly #states = new Map<number, GenerationState>();
  readonly #trustMs: number;
  readonly #retryAt: () => number;

  /**
   * @param trustMs - how long a working login vouches for the credentials
   * @param retryAt - when refused credentials may be tried again: asked at each login (the end of the
   *   coordinator's cooldown, or `Infinity` while it is asking the provider)
   */
  constructor(trustMs: number, retryAt: () => number) {
    this.#trustMs = trustMs;
    this.#retryAt = retryAt;
  }

  /**
   * Waits until a login with `generation`'s credentials may start. Resolves with the ticket the
   * login reports its outcome through; rejects, without a login, with a copy of the server's
   * refusal when these credentials were refused and may not be tried yet.
   */
  enter(generation: number): Promise<LoginTicket> {
    const state = this.#state(generation);
    const now = Date.now();
    if (state.refused !== undefined) {
      if (now < this.#retryAt()) return Promise.reject(copyRefusal(state.refused));
      state.refused = undefined;
    }
    if (this.#canStart(state, now)) return Promise.resolve(this.#start(generation, state));
    return new Promise((resolve, reject) => state.waiters.push({ resolve, reject }));
  }

  /**
   * The server dropped a connection (killed sessions, a restart, an idle timeout): what worked a
   * moment ago may not now, so the next login with any generation goes first, alone (logins
   * already under way go on).
   */
  distrust(): void {
    for (const state of this.#states.values()) state.trustedUntil = 0;
  }

  /** Forgets generations older than `generation`, except their waiting logins' answers. */
  forgetBefore(generation: number): void {
    for (const [key, state] of this.#states) {
      if (key < generation && state.inFlight === 0 && state.waiters.length === 0) this.#states.delete(key);
    }
  }

  #state(generation: number): GenerationState {
    let state = this.#states.get(generation);
    if (state === undefined) {
      state = { trustedUntil: 0, inFlight: 0, waiters: [], refused: undefined };
      this.#states.set(generation, state);
    }
    return state;
  }

  #canStart(state: GenerationState, now: number): boolean {
    return state.inFlight < (now < state.trustedUntil ? MAX_PARALLEL_LOGINS : 1);
  }

  #start(generation: number, state: GenerationState): LoginTicket {
    state.inFlight += 1;
    let settled = false;
    const settle = (then: () => void) => {
      if (settled) return;
      settled = true;
      state.inFlight -= 1;
      then();
    };
    return {
      succeeded: () =>
        settle(() => {
          state.trustedUntil = Date.now() + this.#trustMs;
          state.refused = undefined;
          this.#admit(generation, state);
        }),
      refused: (error) =>
        settle(() => {
          const refusal = pristine(error);
          state.trustedUntil = 0;
          state.refused = refusal;
          for (const waiter of state.waiters.splice(0)) waiter.reject(copyRefusal(refusal));
          // Older credentials that worked are refused now: the server has changed since newer ones
          // were refused, and they may work. One login may try them again.
          for (const [key, other] of this.#states) if (key > generation) other.refused = undefined;
        }),
      // Nothing learned about the credentials: the next login in line may go.
      failed: () => settle(() => this.#admit(generation, state)),
    };
  }

  /** Lets waiting logins start, as many as may run now. */
  #admit(generation: number, state: GenerationState): void {
    const now = Date.now();
    while (state.waiters.length > 0 && state.refused === undefined && this.#canStart(state, now)) {
      state.waiters.shift()!.resolve(this.#start(generation, state));
    }
  }
}

/** A ticket for logins that need no gate (no credentials from a provider). */
export const UNGATED: LoginTicket = SETTLED;

const COPIED_KEYS = ['errno', 'code', 'sqlState', 'sqlMessage'] as const;

/** The server's refusal as it was when it arrived (before anyone annotated its message). */
function pristine(error: Error): Error {
  const copy = new Error(error.message) as Error & Record<string, unknown>;
  for (const key of COPIED_KEYS) {
    const value = (error as unknown as Record<string, unknown>)[key];
    if (value !== undefined) copy[key] = value;
  }
  return copy;
}

/**
 * A copy of a server's 1045 for a login that was not tried: the same `errno`, `code`,
 * `sqlState` and message, with a note saying why.
 */
export function copyRefusal(refusal: Error): Error {
  const copy = pristine(refusal);
  copy.message = `${refusal.message} (not tried: these credentials were refused a moment ago)`;
  return copy;
}
