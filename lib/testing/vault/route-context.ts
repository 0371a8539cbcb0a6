/**
 * The contract between the route table and the handlers it dispatches to: what a handler gets
 * and what it returns.
 *
 * @packageDocumentation
 */

import type { VaultHttpRequest, VaultReply } from './http.js';
import type { VaultState } from './state.js';
import type { TokenEntry } from './tokens.js';

/** What a handler gets. */
export interface RouteContext {
  readonly state: VaultState;
  readonly request: VaultHttpRequest;
  /** Path parameters: `role`, `path`, `lease`. */
  readonly params: Readonly<Record<string, string>>;
  /** The request's valid token (always set on authenticated routes). */
  readonly token: TokenEntry | undefined;
}

export type Handler = (context: RouteContext) => VaultReply | Promise<VaultReply>;
