/**
 * The `mysql_clear_password` auth plugin that sends an RDS IAM token: the server asks for the
 * password in clear text, so the plugin sends it only over TLS (or, when the user allows it for
 * tests, over plain TCP to this machine).
 *
 * @packageDocumentation
 */

import { InvalidOptionError } from '../../lib/errors.js';
import { isLoopback } from '../../lib/loopback.js';

/**
 * A mysql2 auth plugin, typed by shape (mysql2's `AuthPlugin` accepts it): given the connection
 * and its handshake command, the function that answers the server's request.
 */
export type ClearPasswordPlugin = (metadata: { connection: unknown; command: unknown }) => (pluginData: Buffer) => Buffer;

/** What the plugin reads of mysql2's connection: its socket and its settings. */
interface ConnectionView {
  stream?: { encrypted?: unknown; remoteAddress?: unknown };
  config?: { password?: unknown; host?: unknown; port?: unknown };
}

/**
 * A `mysql_clear_password` plugin that sends the connection's password (the token) only over
 * TLS. Over plain TCP it throws an {@link InvalidOptionError} naming `ssl` (mysql2 then fails the
 * login with it, and the token is never written), unless `allowPlainTcpOnLoopback` is set and
 * the server's address is a loopback address.
 *
 * @param owner - names the provider in the error
 */
export function clearPasswordOverTls(owner: string, allowPlainTcpOnLoopback: boolean): ClearPasswordPlugin {
  return ({ connection, command }) => {
    const view = (connection ?? {}) as ConnectionView;
    if (view.stream?.encrypted !== true) {
      const address = typeof view.stream?.remoteAddress === 'string' ? view.stream.remoteAddress : undefined;
      if (!(allowPlainTcpOnLoopback && address !== undefined && isLoopback(address))) {
        const host = view.config?.host;
        const port = view.config?.port;
        const where = typeof host === 'string' ? `${host}${typeof port === 'number' ? `:${port}` : ''}` : 'the server';
        throw new InvalidOptionError(
          'ssl',
          `is required: ${owner} sends its IAM token in clear text (mysql_clear_password), so only over TLS, and the connection to ${where} is not encrypted. ` +
            'Spread provider.poolOptions() into the pool options (it sets ssl), or, for tests against a server on this machine only, set allowPlainTcpOnLoopback',
        );
      }
    }
    // As mysql2's own plugin: the handshake command's password, else the connection's.
    const commandPassword = (command as { password?: unknown } | null)?.password;
    const password = typeof commandPassword === 'string' && commandPassword !== '' ? commandPassword : view.config?.password;
    const token = Buffer.from(`${typeof password === 'string' ? password : ''}\0`, 'utf8');
    return () => token;
  };
}
