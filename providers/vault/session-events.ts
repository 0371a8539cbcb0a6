/**
 * What a {@link VaultSession} tells its provider: token changes and failures of its background
 * work (renewal, login). A listener that throws cannot disturb the session: its error is
 * reported as a failure, and a failure listener's own error is dropped.
 *
 * @packageDocumentation
 */

import { type Token, type VaultTokenEvent, tokenState } from './token.js';

/** The listeners of one session. */
export class SessionEvents {
  readonly #tokenListeners = new Set<(event: VaultTokenEvent) => void>();
  readonly #errorListeners = new Set<(error: Error) => void>();

  /** Listens to token changes; returns a function that stops listening. */
  onToken(listener: (event: VaultTokenEvent) => void): () => void {
    this.#tokenListeners.add(listener);
    return () => this.#tokenListeners.delete(listener);
  }

  /** Listens to failures of background work; returns a function that stops listening. */
  onError(listener: (error: Error) => void): () => void {
    this.#errorListeners.add(listener);
    return () => this.#errorListeners.delete(listener);
  }

  /** Tells the token listeners that `token` changed (never the token itself, only its state). */
  token(type: VaultTokenEvent['type'], token: Token): void {
    const event: VaultTokenEvent = { type, ...tokenState(token) };
    for (const listener of [...this.#tokenListeners]) {
      try {
        listener(event);
      } catch (error) {
        this.error(error as Error);
      }
    }
  }

  /** Tells the failure listeners about `error`. */
  error(error: Error): void {
    for (const listener of [...this.#errorListeners]) {
      try {
        listener(error);
      } catch {
        // A listener's own failure has nowhere else to go.
      }
    }
  }

  /** Forgets every listener (the session closed). */
  clear(): void {
    this.#tokenListeners.clear();
    this.#errorListeners.clear();
  }
}
