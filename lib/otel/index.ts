/**
 * `credswap/otel`: OpenTelemetry metrics for credswap, made from its diagnostics channels.
 * Needs `@opentelemetry/api` (an optional peer) only when no `meterProvider` is given.
 */
export { CredswapMetrics, METER_NAME } from './metrics.js';
export type { CredswapMetricsOptions, MeterLike, MeterProviderLike, MetricAttributes, MetricInstrumentOptions } from './metrics.js';
