import { VaultError } from './errors.js';
import { Poller, type PollerOptions } from '../../lib/poller.js';
import type { VaultSession } from './session.js';

/**
 * A {@link Poller} for a Vault provider: failures count towards the backoff unless Vault said
 * they cannot be helped by waiting, and while anyone is subscribed the session's background
 * errors (token renewal, login) are reported to the subscribers too.
 */
export function vaultPoller(session: VaultSession, path: string, options: Pick<PollerOptions, 'nextDelay' | 'look'>): Poller {
  let unlisten: (() => void) | undefined;
  const poller: Poller = new Poller({
    ...options,
    isRetryable: (error) => !(error instanceof VaultError) || error.retryable,
    toError: (error) => new VaultError(path, 'the background read failed', { retryable: true, cause: error }),
    onActive: (active) => {
      unlisten?.();
      unlisten = active ? session.onError((error) => poller.report(error)) : undefined;
    },
  });
  return poller;
}
