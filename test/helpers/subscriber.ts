import sinon from 'sinon';
import type { Credentials } from '../../lib/credentials.js';
import type { CredentialsProvider } from '../../lib/provider.js';

/** Subscribes to `provider` with spies for both callbacks. */
export function spySubscriber(provider: Required<Pick<CredentialsProvider, 'subscribe'>>) {
  const onChange = sinon.spy((_creds: Credentials) => {});
  const onError = sinon.spy((_err: Error) => {});
  const unsubscribe = provider.subscribe(onChange, onError);
  return { onChange, onError, unsubscribe };
}
