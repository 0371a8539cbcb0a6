/**
 * The types of a fleet drill's section of the report (`DrillReport.fleet`), apart from the code
 * that computes them (`./report.ts`), so that the report's types need nothing else.
 *
 * @packageDocumentation
 */

/** One process of a fleet, as reported. */
export interface FleetProcessReport {
  /** 1-based. */
  process: number;
  queries: { ok: number; failed: number; failedByCode: Record<string, number> };
  /** Requests this process made to the secret store (its proxy counted them). */
  storeCalls: number;
  /** Calls of its provider. */
  providerCalls: number;
  /** Generations its pool started after the first. */
  rotations: number;
  connectionsOpened: number;
  /** The slowest convergence over the rotations, ms; absent when it never converged after one. */
  convergenceMs?: number;
}

/** The store's calls from one rotation's start to the next (or the end of the load). */
export interface RotationCalls {
  /** 1-based. */
  rotation: number;
  /** The fleet's calls in that span. */
  calls: number;
  /** Processes that made at least one. */
  processes: number;
  byOperation: Record<string, number>;
  /** Offsets of the calls from the rotation's start, ms (nearest rank); absent without calls. */
  firstMs?: number;
  p50Ms?: number;
  p90Ms?: number;
  lastMs?: number;
  /** The calls in 20 (`CALL_HISTOGRAM_BUCKETS`) equal spans from the rotation's start. */
  histogram: { bucketMs: number; counts: number[] };
}

/** The fleet section of a report. */
export interface FleetReport {
  /** Worker processes. */
  processes: number;
  /** Each process's pool `connectionLimit`. */
  connectionLimit: number;
  store: {
    kind: 'secrets-manager' | 'vault';
    /** Requests the fleet made, all processes and the whole run. */
    calls: number;
    callsByOperation: Record<string, number>;
    /** Of those, before the first rotation: each process's first fetch. */
    startupCalls: number;
    /** Every request the emulator received from the fleet's start to its end: the fleet's, the rotation's and the drill's own. */
    emulatorCalls: number;
    /** What each rotation cost: one entry per rotation. */
    rotations: RotationCalls[];
    /** The budget of calls per rotation: 2 per process. */
    budgetPerRotation: number;
  };
  /** Logins the database refused (`Aborted_connects`), the rotation's own attempts included. */
  refusedLogins: number;
  connections: {
    /** The most connections the processes had open to the database at once (their sockets, from connect to close). */
    peak: number;
    /** processes × connectionLimit. */
    limit: number;
    /**
     * Throwaway server only: the server's own high-water mark over the run (`Max_used_connections`
     * after `FLUSH STATUS`, less the drill's counting connection): every connection, the
     * rotation's own included.
     */
    serverPeak?: number;
    /** The highest count of the drill user's connections in the server's `PROCESSLIST`, sampled every 100 ms. */
    sampledPeak: number;
  };
  /** Whether the fleet met its targets: no failed query, calls per rotation within budget, peak within the limit. */
  met: { queries: boolean; callsPerRotation: boolean; connections: boolean };
  perProcess: FleetProcessReport[];
}
