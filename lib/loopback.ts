/**
 * Whether a host names this machine: credswap sends the Lambda extension's token, and its
 * testing kit sends test traffic, only to such hosts.
 */
import { isIPv4, isIPv6 } from 'node:net';

/**
 * True for `localhost`, an IPv4 address in 127.0.0.0/8, and `::1` or an IPv4-mapped 127.x
 * address (with or without brackets). Names other than `localhost` are not resolved.
 *
 * @example
 * ```ts
 * isLoopback('127.0.0.1'); // true
 * isLoopback('[::1]'); // true
 * isLoopback('db.internal'); // false
 * ```
 */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost') return true;
  if (isIPv4(h)) return h.startsWith('127.');
  return isIPv6(h) && (h === '::1' || /^::ffff:127\./.test(h));
}
