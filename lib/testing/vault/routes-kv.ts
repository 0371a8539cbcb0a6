/**
 * KV version 2 routes (`<mount>/data/:path`, `<mount>/metadata/:path`), with the shapes of
 * Vault's `kv` plugin.
 *
 * @packageDocumentation
 */

import { errorReply, NO_CONTENT, ok, type VaultReply } from './http.js';
import type { RouteContext } from './route-context.js';

const mountOf = (name: string): string => name.slice(0, name.indexOf('/'));

export function kvRead({ state, request, params }: RouteContext): VaultReply {
  const mount = mountOf(request.path);
  const versionParam = request.query.get('version');
  const version = versionParam === null ? 0 : Number(versionParam);
  if (!Number.isInteger(version) || version < 0) return errorReply(400, 'invalid version');
  const found = state.kv.read(mount, params.path, version);
  if (found === undefined) return errorReply(404);
  return ok({ mountType: 'kv', data: found });
}

export function kvWrite({ state, request, params }: RouteContext): VaultReply {
  const { data, options } = request.body;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return errorReply(400, 'no data provided');
  const cas = (options as { cas?: unknown } | undefined)?.cas;
  if (cas !== undefined && (typeof cas !== 'number' || !Number.isInteger(cas) || cas < 0)) {
    return errorReply(400, 'invalid check-and-set parameter');
  }
  const result = state.kv.write(mountOf(request.path), params.path, data as Record<string, unknown>, cas);
  if (!result.ok) return errorReply(400, result.error);
  return ok({ mountType: 'kv', data: result.metadata });
}

export function kvMetadata({ state, request, params }: RouteContext): VaultReply {
  const metadata = state.kv.metadata(mountOf(request.path), params.path);
  if (metadata === undefined) return errorReply(404);
  return ok({ mountType: 'kv', data: metadata });
}

export function kvDeleteMetadata({ state, request, params }: RouteContext): VaultReply {
  state.kv.deleteMetadata(mountOf(request.path), params.path);
  return NO_CONTENT;
}
