/**
 * `credswap`: the rotation coordinator, the provider contract and the error classes.
 * Pools live in `credswap/mysql2` and `credswap/mysql2/promise`; providers in `credswap/file`
 * and friends.
 */
export {
  RotationCoordinator,
  annotateAccessDenied,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_COOLDOWN_MS,
  DEFAULT_MAX_COOLDOWN_MS,
  DEFAULT_REFRESH_BEFORE_EXPIRY_MS,
} from './coordinator.js';
export type {
  CoordinatorOptions,
  CoordinatorTimingOptions,
  CredentialsSnapshot,
  RotateEvent,
  RotateReason,
  RotationErrorInfo,
  RotationErrorReason,
} from './coordinator.js';
export { fromFunction, isProvider } from './provider.js';
export { chain, tryNextProvider, shouldTryNextProvider } from './chain.js';
export type { CredentialsProvider, HotSwapFunction, FetchContext, FetchReason, FromFunctionOptions } from './provider.js';
export { sealCredentials, sameCredentials, sameTokenAccount, fingerprint } from './credentials.js';
export type { Credentials, CredentialsKind, SealedCredentials } from './credentials.js';
export {
  CredswapError,
  InvalidOptionError,
  InvalidCredentialsError,
  CredentialsUnavailableError,
  ProviderError,
  RotationTimeoutError,
  RotationCooldownError,
  ClosedError,
  AccountUnavailableError,
  ReadOnlyError,
  MissingDependencyError,
  ERROR_CODES,
  isCredswapError,
} from './errors.js';
export type { CredswapErrorCode } from './errors.js';
export { DIAGNOSTICS_CHANNELS, MYSQL2_POOL_CONNECT_CHANNEL } from './diagnostics.js';
export type {
  RotationMessage,
  RotationErrorMessage,
  ProviderCallContext,
  ProviderCallOutcome,
  LoginRefusedMessage,
  ConnectionMessage,
  ConnectionDiscardMessage,
  DrainMessage,
  FailoverMessage,
  Mysql2PoolConnectContext,
} from './diagnostics.js';
