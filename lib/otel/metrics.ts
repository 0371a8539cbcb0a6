/**
 * OpenTelemetry metrics made from credswap's diagnostics channels (`../diagnostics.ts`):
 * rotations, provider calls, refused logins, discarded connections, connections by generation,
 * failover episodes and drains. Nothing here runs until a {@link CredswapMetrics} subscribes, and
 * `@opentelemetry/api` loads only when no meter provider is given.
 *
 * Meters are typed structurally ({@link MeterProviderLike}): the declarations need no
 * OpenTelemetry package, and any `MeterProvider` of `@opentelemetry/api` 1.x fits.
 *
 * @packageDocumentation
 */

import * as dc from 'node:diagnostics_channel';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import {
  DIAGNOSTICS_CHANNELS,
  type ConnectionDiscardMessage,
  type ConnectionMessage,
  type DrainMessage,
  type FailoverMessage,
  type LoginRefusedMessage,
  type ProviderCallContext,
  type RotationErrorMessage,
  type RotationMessage,
} from '../diagnostics.js';
import { InvalidOptionError, MissingDependencyError } from '../errors.js';
import { expectObject, rejectUnknownKeys } from '../options.js';

/** Attributes of a measurement, as OpenTelemetry takes them. */
export type MetricAttributes = Record<string, string | number | boolean>;

/** Options of an instrument, as OpenTelemetry's `MetricOptions` (the parts credswap sets). */
export interface MetricInstrumentOptions {
  description?: string;
  unit?: string;
  advice?: { explicitBucketBoundaries?: number[] };
}

/** What credswap uses of an OpenTelemetry `Meter`. */
export interface MeterLike {
  createCounter(name: string, options?: MetricInstrumentOptions): { add(value: number, attributes?: MetricAttributes): void };
  createHistogram(name: string, options?: MetricInstrumentOptions): { record(value: number, attributes?: MetricAttributes): void };
  createObservableUpDownCounter(
    name: string,
    options?: MetricInstrumentOptions,
  ): {
    addCallback(callback: (result: { observe(value: number, attributes?: MetricAttributes): void }) => void): void;
    removeCallback(callback: (result: { observe(value: number, attributes?: MetricAttributes): void }) => void): void;
  };
}

/** What credswap uses of an OpenTelemetry `MeterProvider`: `getMeter`. */
export interface MeterProviderLike {
  getMeter(name: string, version?: string): MeterLike;
}

/** Options of {@link CredswapMetrics}. */
export interface CredswapMetricsOptions {
  /**
   * Where the instruments come from. Default: the global one of `@opentelemetry/api`
   * (`metrics.getMeterProvider()`, what the OpenTelemetry Node SDK registers), which then must
   * be installed.
   */
  meterProvider?: MeterProviderLike;
}

/** The name of credswap's meter (its instrumentation scope). */
export const METER_NAME = 'credswap';

/** Histogram buckets of provider calls, in seconds: up to `rotation.timeoutMs`'s default and beyond. */
const PROVIDER_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Histogram buckets of failover episodes, in seconds. */
const FAILOVER_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** `error.type` of an error: its stable code when it has one, else its class's name. */
function errorType(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.name : '_OTHER';
}

/** The global meter provider of `@opentelemetry/api`; `require` first, so `NODE_PATH` works. */
function globalMeterProvider(): MeterProviderLike {
  const from = typeof __filename === 'string' ? __filename : join(process.cwd(), 'index.js');
  let api: { metrics: { getMeterProvider(): MeterProviderLike } };
  try {
    api = createRequire(from)('@opentelemetry/api') as typeof api;
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code === 'MODULE_NOT_FOUND') {
      throw new MissingDependencyError('@opentelemetry/api', 'CredswapMetrics without a meterProvider', { cause: error });
    }
    throw error;
  }
  return api.metrics.getMeterProvider();
}

/**
 * Records credswap's metrics with OpenTelemetry, from the moment it is created until
 * {@link CredswapMetrics.disable}, for every pool and coordinator in the process (two copies of
 * credswap included: the channels are shared by name).
 *
 * | instrument | unit | attributes |
 * |---|---|---|
 * | `credswap.rotations` (counter): provider calls and pushed updates | `{rotation}` | `credswap.rotation.reason`, `credswap.rotation.outcome`, `credswap.provider.name`, `error.type` |
 * | `credswap.provider.duration` (histogram) | `s` | the same |
 * | `credswap.rotation.errors` (counter): every `rotation-error` | `{error}` | `credswap.rotation.reason`, `credswap.provider.name`, `error.type` |
 * | `credswap.logins.refused` (counter) | `{login}` | `db.response.status_code`, `credswap.login.problem` |
 * | `credswap.connections.discarded` (counter) | `{connection}` | `credswap.discard.reason` |
 * | `credswap.connections` (observable up-down counter): open connections | `{connection}` | `credswap.generation` |
 * | `credswap.failover.duration` (histogram) | `s` | `credswap.failover.outcome`, `credswap.failover.moved` |
 * | `credswap.failover.probes` (counter) | `{login}` | `credswap.failover.outcome` |
 * | `credswap.drains` (counter) | `{drain}` | `credswap.drain.mode` |
 *
 * `credswap.connections` counts the connections opened since the metrics were enabled.
 *
 * @example
 * ```ts
 * import { CredswapMetrics } from 'credswap/otel';
 * const metrics = new CredswapMetrics(); // the global MeterProvider (the OpenTelemetry SDK's)
 * // ... at shutdown:
 * metrics.disable();
 * ```
 */
export class CredswapMetrics {
  readonly #subscriptions: Array<[string, (message: unknown) => void]> = [];
  /** Open connections seen to open: connection id to generation. */
  readonly #connections = new Map<number, number>();
  /** Generations last reported with connections. */
  #reported = new Set<number>();
  readonly #observe: (result: { observe(value: number, attributes?: MetricAttributes): void }) => void;
  readonly #gauge: ReturnType<MeterLike['createObservableUpDownCounter']>;
  #enabled = true;

  constructor(options: CredswapMetricsOptions = {}) {
    const bag = expectObject(options, 'CredswapMetrics options')!;
    rejectUnknownKeys(bag, new Set(['meterProvider']), '');
    const provider = (bag.meterProvider as MeterProviderLike | undefined) ?? globalMeterProvider();
    if (typeof provider?.getMeter !== 'function')
      throw new InvalidOptionError('meterProvider', 'must be a MeterProvider (with getMeter())');
    const meter = provider.getMeter(METER_NAME);

    const rotations = meter.createCounter('credswap.rotations', {
      unit: '{rotation}',
      description: 'Rotation attempts: provider calls and pushed updates',
    });
    const providerDuration = meter.createHistogram('credswap.provider.duration', {
      unit: 's',
      description: 'How long provider calls took, until they settled, timed out or were abandoned',
      advice: { explicitBucketBoundaries: PROVIDER_BUCKETS },
    });
    const rotationErrors = meter.createCounter('credswap.rotation.errors', {
      unit: '{error}',
      description: 'Failed provider calls, invalid pushed updates, and failures of retire, close and rotate listeners',
    });
    const refused = meter.createCounter('credswap.logins.refused', { unit: '{login}', description: 'Logins the server refused' });
    const discarded = meter.createCounter('credswap.connections.discarded', {
      unit: '{connection}',
      description: 'Connections the pool discarded',
    });
    const failoverDuration = meter.createHistogram('credswap.failover.duration', {
      unit: 's',
      description: 'How long failover episodes lasted',
      advice: { explicitBucketBoundaries: FAILOVER_BUCKETS },
    });
    const probes = meter.createCounter('credswap.failover.probes', { unit: '{login}', description: 'Probe logins of failover episodes' });
    const drains = meter.createCounter('credswap.drains', {
      unit: '{drain}',
      description: 'Drains: the first login with newer credentials worked while older connections were open',
    });
    this.#gauge = meter.createObservableUpDownCounter('credswap.connections', {
      unit: '{connection}',
      description: 'Open pool connections, by the generation of their credentials',
    });
    this.#observe = (result) => {
      const byGeneration = new Map<number, number>();
      for (const generation of this.#connections.values()) byGeneration.set(generation, (byGeneration.get(generation) ?? 0) + 1);
      // A generation left without connections is reported as 0 once: the SDK repeats the last value of a series it stops hearing about.
      for (const generation of this.#reported) if (!byGeneration.has(generation)) byGeneration.set(generation, 0);
      this.#reported = new Set([...byGeneration].filter(([, count]) => count > 0).map(([generation]) => generation));
      for (const [generation, count] of byGeneration) result.observe(count, { 'credswap.generation': generation });
    };
    this.#gauge.addCallback(this.#observe);

    const channels = DIAGNOSTICS_CHANNELS;
    this.#on(`tracing:${channels.provider}:asyncEnd`, (m: ProviderCallContext) => {
      const attributes: MetricAttributes = {
        'credswap.rotation.reason': m.reason,
        'credswap.rotation.outcome': m.outcome ?? 'unchanged',
        'credswap.provider.name': m.provider,
        ...(m.error !== undefined ? { 'error.type': errorType(m.error) } : {}),
      };
      rotations.add(1, attributes);
      if (m.durationMs !== undefined) providerDuration.record(m.durationMs / 1000, attributes);
    });
    this.#on(channels.rotation, (m: RotationMessage) => {
      if (m.reason !== 'push') return; // the others are provider calls, counted when they end
      rotations.add(1, {
        'credswap.rotation.reason': 'push',
        'credswap.rotation.outcome': 'rotated',
        'credswap.provider.name': m.provider,
      });
    });
    this.#on(channels.rotationError, (m: RotationErrorMessage) => {
      const attributes = { 'credswap.rotation.reason': m.reason, 'credswap.provider.name': m.provider, 'error.type': errorType(m.error) };
      rotationErrors.add(1, attributes);
      if (m.reason === 'push') rotations.add(1, { ...attributes, 'credswap.rotation.outcome': 'failed' });
    });
    this.#on(channels.loginRefused, (m: LoginRefusedMessage) => {
      refused.add(1, {
        ...(m.errno !== undefined ? { 'db.response.status_code': String(m.errno) } : {}),
        ...(m.problem !== undefined ? { 'credswap.login.problem': m.problem } : {}),
      });
    });
    this.#on(channels.connectionOpen, (m: ConnectionMessage) => this.#connections.set(m.connectionId, m.generation));
    this.#on(channels.connectionClose, (m: ConnectionMessage) => this.#connections.delete(m.connectionId));
    this.#on(channels.connectionDiscard, (m: ConnectionDiscardMessage) => discarded.add(1, { 'credswap.discard.reason': m.reason }));
    this.#on(channels.drain, (m: DrainMessage) => drains.add(1, { 'credswap.drain.mode': m.mode }));
    this.#on(channels.failover, (m: FailoverMessage) => {
      if (m.state !== 'ended') return;
      const attributes = { 'credswap.failover.outcome': m.outcome, 'credswap.failover.moved': m.moved };
      failoverDuration.record(m.durationMs / 1000, attributes);
      probes.add(m.probes, { 'credswap.failover.outcome': m.outcome });
    });
  }

  /** Whether the metrics are recorded (until {@link disable}). */
  get enabled(): boolean {
    return this.#enabled;
  }

  /** Stops recording: unsubscribes from the channels and stops observing connections. Idempotent. */
  disable(): void {
    if (!this.#enabled) return;
    this.#enabled = false;
    for (const [name, handler] of this.#subscriptions.splice(0)) dc.unsubscribe(name, handler);
    this.#gauge.removeCallback(this.#observe);
    this.#connections.clear();
  }

  /** `using metrics = new CredswapMetrics()` disables them at the end of the scope. */
  [Symbol.dispose](): void {
    this.disable();
  }

  #on<M>(name: string, handler: (message: M) => void): void {
    const listener = handler as (message: unknown) => void;
    dc.subscribe(name, listener);
    this.#subscriptions.push([name, listener]);
  }
}
