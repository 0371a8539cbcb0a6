import { SecretsManagerError } from './errors.js';
import { Poller, intervalDelay, type PollerOptions } from '../../lib/poller.js';
import { toSecretsManagerError } from './sdk.js';

/** The first backoff after a failed background look; it doubles up to the refresh interval. */
const POLL_RETRY_BASE_MS = 1_000;

/**
 * A {@link Poller} for a provider of a Secrets Manager secret: it looks every
 * `refreshIntervalMs` (jittered), and failures count towards the backoff unless Secrets Manager
 * said waiting cannot help; each failure is reported as a `SecretsManagerError` naming the secret.
 */
export function secretsManagerPoller(secretId: string, refreshIntervalMs: number, look: PollerOptions['look']): Poller {
  return new Poller({
    nextDelay: intervalDelay(refreshIntervalMs, POLL_RETRY_BASE_MS),
    look,
    isRetryable: (error) => !(error instanceof SecretsManagerError) || error.retryable,
    toError: (error) => toSecretsManagerError(secretId, error) as Error,
  });
}
