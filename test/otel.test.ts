import assert from 'node:assert/strict';
import { metrics as otelMetrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { RotationCoordinator } from '../lib/coordinator.js';
import { InvalidOptionError } from '../lib/errors.js';
import { createPool, type PromisePool } from '../lib/mysql2/promise.js';
import { CredswapMetrics, METER_NAME } from '../lib/otel/index.js';
import { useFailoverRig } from './helpers/failover.js';
import { eventually, startLoad } from './helpers/load.js';

/** A MeterProvider of the OpenTelemetry SDK, exporting to memory when asked. */
function sdk() {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000, exportTimeoutMillis: 10_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    meterProvider,
    /** credswap's metrics as the SDK exports them now, by name. */
    async collect(): Promise<Map<string, MetricData>> {
      exporter.reset();
      await reader.forceFlush();
      const out = new Map<string, MetricData>();
      for (const resource of exporter.getMetrics()) {
        for (const scope of resource.scopeMetrics) {
          if (scope.scope.name !== METER_NAME) continue;
          for (const metric of scope.metrics) out.set(metric.descriptor.name, metric);
        }
      }
      return out;
    },
    shutdown: () => meterProvider.shutdown(),
  };
}

type Sdk = ReturnType<typeof sdk>;

/** A sum's points: attributes (as JSON, keys sorted) to value. */
function sums(metric: MetricData | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const point of metric?.dataPoints ?? []) {
    const attributes = Object.fromEntries(Object.entries(point.attributes).sort(([a], [b]) => a.localeCompare(b)));
    out[JSON.stringify(attributes)] = point.value as number;
  }
  return out;
}

/** A histogram's points: their attributes, count and sum. */
function histogram(metric: MetricData | undefined): Array<{ attributes: object; count: number; sum: number }> {
  assert.equal(metric?.dataPointType, DataPointType.HISTOGRAM);
  return metric.dataPoints.map((point) => {
    const value = point.value as { count: number; sum?: number };
    return { attributes: point.attributes, count: value.count, sum: value.sum ?? 0 };
  });
}

describe('credswap/otel', function () {
  const rig = useFailoverRig('otel');
  let telemetry: Sdk;
  let metrics: CredswapMetrics;
  let pool: PromisePool | undefined;

  beforeEach(function () {
    telemetry = sdk();
    metrics = new CredswapMetrics({ meterProvider: telemetry.meterProvider });
  });

  afterEach(async function () {
    metrics.disable();
    await pool?.end();
    pool = undefined;
    await telemetry.shutdown();
    await rig.primary.setReadOnly(false);
    rig.proxy.flip(rig.primary);
  });

  function rigPool(connectionLimit: number): PromisePool {
    pool = createPool({ host: rig.host, port: rig.port, database: rig.database, connectionLimit, credentials: rig.credentials });
    return pool;
  }

  it('records a rotation: the provider calls, the refused login, the drain, the discards, and connections by generation', async function () {
    const p = rigPool(4);
    const held = [await p.getConnection(), await p.getConnection()];
    await rig.rotatePassword();
    (await p.getConnection()).release(); // refused with the old password: the provider is asked
    for (const connection of held) connection.release(); // stale: discarded
    await eventually(() => p.stats.total === 1, 5_000, 'the stale connections to close');
    const seen = await telemetry.collect();

    const provider = 'function:credentials';
    assert.deepEqual(sums(seen.get('credswap.rotations')), {
      [JSON.stringify({
        'credswap.provider.name': provider,
        'credswap.rotation.outcome': 'rotated',
        'credswap.rotation.reason': 'initial',
      })]: 1,
      [JSON.stringify({
        'credswap.provider.name': provider,
        'credswap.rotation.outcome': 'rotated',
        'credswap.rotation.reason': 'rejected',
      })]: 1,
    });
    assert.equal(seen.get('credswap.rotations')?.descriptor.unit, '{rotation}');
    const durations = histogram(seen.get('credswap.provider.duration'));
    assert.deepEqual(
      durations.map((d) => d.count),
      [1, 1],
    );
    assert.equal(seen.get('credswap.provider.duration')?.descriptor.unit, 's');
    assert.deepEqual(sums(seen.get('credswap.logins.refused')), { [JSON.stringify({ 'db.response.status_code': '1045' })]: 1 });
    assert.deepEqual(sums(seen.get('credswap.drains')), { [JSON.stringify({ 'credswap.drain.mode': 'graceful' })]: 1 });
    assert.deepEqual(sums(seen.get('credswap.connections.discarded')), { [JSON.stringify({ 'credswap.discard.reason': 'stale' })]: 2 });
    assert.deepEqual(sums(seen.get('credswap.connections')), { [JSON.stringify({ 'credswap.generation': 2 })]: 1 });

    await p.end();
    pool = undefined;
    assert.deepEqual(
      sums((await telemetry.collect()).get('credswap.connections')),
      { [JSON.stringify({ 'credswap.generation': 2 })]: 0 },
      'no connection left once the pool ended',
    );
  });

  it('records a failover episode: its duration and outcome, its probes, and the connections discarded', async function () {
    const p = rigPool(4);
    const held = await Promise.all([1, 2, 3, 4].map(() => p.getConnection()));
    for (const connection of held) connection.release();
    const load = startLoad(4, () => p.query('INSERT INTO items (n) VALUES (1)'));
    await load.untilOk(20);
    await rig.failover();
    await load.untilOk(load.result.ok + 100);
    await load.stop();
    const seen = await telemetry.collect();

    const [episode, ...more] = histogram(seen.get('credswap.failover.duration'));
    assert.deepEqual(more, [], 'one episode');
    assert.deepEqual(episode.attributes, { 'credswap.failover.outcome': 'writable', 'credswap.failover.moved': true });
    assert.equal(episode.count, 1);
    assert.ok(episode.sum > 0, `lasted ${episode.sum} s`);
    assert.ok((sums(seen.get('credswap.failover.probes'))[JSON.stringify({ 'credswap.failover.outcome': 'writable' })] ?? 0) >= 1);
    assert.ok((sums(seen.get('credswap.connections.discarded'))[JSON.stringify({ 'credswap.discard.reason': 'failover' })] ?? 0) >= 1);
  });

  it('records nothing once disabled', async function () {
    metrics.disable();
    assert.equal(metrics.enabled, false);
    const coordinator = new RotationCoordinator({ provider: async () => ({ user: 'app', password: 'p' }) });
    await coordinator.acquire();
    await coordinator.close();
    assert.deepEqual(sums((await telemetry.collect()).get('credswap.rotations')), {});
  });

  it("uses @opentelemetry/api's global MeterProvider when given none", async function () {
    metrics.disable();
    otelMetrics.setGlobalMeterProvider(telemetry.meterProvider);
    try {
      using global = new CredswapMetrics();
      assert.ok(global.enabled);
      const coordinator = new RotationCoordinator({
        provider: async function vault() {
          return { user: 'app', password: 'p' };
        },
      });
      await coordinator.acquire();
      await coordinator.close();
    } finally {
      otelMetrics.disable();
    }
    assert.deepEqual(sums((await telemetry.collect()).get('credswap.rotations')), {
      [JSON.stringify({
        'credswap.provider.name': 'function:vault',
        'credswap.rotation.outcome': 'rotated',
        'credswap.rotation.reason': 'initial',
      })]: 1,
    });
  });

  it('rejects unknown options and a meterProvider that is not one', function () {
    assert.throws(() => new CredswapMetrics({ meterProviders: telemetry.meterProvider } as never), InvalidOptionError);
    assert.throws(() => new CredswapMetrics({ meterProvider: {} as never }), /option 'meterProvider'/);
  });
});
