import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import * as dc from 'node:diagnostics_channel';
import { inspect } from 'node:util';
import * as mysql2 from 'mysql2';
import sinon from 'sinon';
import { RotationCoordinator } from '../lib/coordinator.js';
import type { Credentials } from '../lib/credentials.js';
import {
  type ConnectionDiscardMessage,
  type ConnectionMessage,
  DIAGNOSTICS_CHANNELS,
  type DrainMessage,
  type LoginRefusedMessage,
  MYSQL2_POOL_CONNECT_CHANNEL,
  type Mysql2PoolConnectContext,
  type ProviderCallContext,
  type RotationMessage,
} from '../lib/diagnostics.js';
import { createPool, type PromisePool } from '../lib/mysql2/promise.js';
import { type MariaDBServer, startTestServer } from '../lib/testing/mariadb.js';

const TRACE_EVENTS = ['start', 'end', 'asyncStart', 'asyncEnd', 'error'] as const;

/** Every channel credswap publishes on: its own (the provider's tracing channel as its five), and mysql2's pool connect. */
const ALL_CHANNELS = [
  ...Object.values(DIAGNOSTICS_CHANNELS).filter((name) => name !== DIAGNOSTICS_CHANNELS.provider),
  ...TRACE_EVENTS.map((event) => `tracing:${DIAGNOSTICS_CHANNELS.provider}:${event}`),
  ...TRACE_EVENTS.map((event) => `tracing:${MYSQL2_POOL_CONNECT_CHANNEL}:${event}`),
];

/** JSON of a message; objects seen before (a connection's cycles) become "[seen]". */
function json(message: unknown): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(message, (_key, value: unknown) => {
    if (typeof value !== 'object' || value === null) return value;
    if (seen.has(value)) return '[seen]';
    seen.add(value);
    return value;
  });
}

interface Recorded {
  readonly channel: string;
  /** A copy taken when it was published (tracing contexts change as the trace goes on). */
  readonly message: Record<string, unknown>;
  /** How a logger would print it: JSON, and util.inspect. */
  readonly printed: string;
}

/** Subscribes to `channels`; `stop()` unsubscribes. */
function record(channels: readonly string[] = ALL_CHANNELS) {
  const messages: Recorded[] = [];
  const handlers = channels.map((channel) => {
    const handler = (message: unknown) => {
      const printed = `${json(message)}\n${inspect(message, { depth: 6 })}`;
      messages.push({ channel, message: { ...(message as object) }, printed });
    };
    dc.subscribe(channel, handler);
    return [channel, handler] as const;
  });
  return {
    messages,
    of<T>(channel: string): T[] {
      return messages.filter((m) => m.channel === channel).map((m) => m.message as T);
    },
    stop() {
      for (const [channel, handler] of handlers) dc.unsubscribe(channel, handler);
    },
  };
}

describe('diagnostics channels', function () {
  let server: MariaDBServer;
  let database: string;
  const pools: PromisePool[] = [];
  const recorders: Array<{ stop(): void }> = [];

  before(async function () {
    server = await startTestServer();
    database = await server.createDatabase('diag');
  });

  after(async function () {
    await server?.stop();
  });

  afterEach(async function () {
    for (const recorder of recorders.splice(0)) recorder.stop();
    await Promise.all(pools.splice(0).map((p) => p.end()));
  });

  function recording(channels?: readonly string[]) {
    const recorder = record(channels);
    recorders.push(recorder);
    return recorder;
  }

  it('tell a rotation end to end, from the refused login to the drained connections, and never a password', async function () {
    const account = await server.createUser({ prefix: 'diag', grants: `ALL ON \`${database}\`.*` });
    const oldPassword = account.password;
    let password = oldPassword;
    const secret = async function secret(): Promise<Credentials> {
      return { user: account.user, password };
    };
    const recorder = recording();
    const p = createPool({ host: server.host, port: server.port, database, connectionLimit: 4, credentials: secret });
    pools.push(p);
    // Two connections of generation 1, kept busy through the rotation.
    const held = [await p.getConnection(), await p.getConnection()];
    const newPassword = `rotated-${Math.random().toString(36).slice(2)}`;
    password = newPassword;
    await server.setPassword(account.user, newPassword);
    // A third connection needs a login: refused, the provider is asked, generation 2 logs in.
    (await p.getConnection()).release();
    for (const connection of held) connection.release(); // stale now: discarded
    await p.end();
    assert.ok(recorder.messages.length > 20, `${recorder.messages.length} messages`);
    for (const { channel, printed } of recorder.messages) {
      for (const password of [oldPassword, newPassword]) assert.ok(!printed.includes(password), `a password in a message of ${channel}`);
    }

    const rotations = recorder.of<RotationMessage>(DIAGNOSTICS_CHANNELS.rotation);
    assert.deepEqual(
      rotations.map(({ generation, previousGeneration, reason, provider, user }) => ({
        generation,
        previousGeneration,
        reason,
        provider,
        user,
      })),
      [
        { generation: 1, previousGeneration: 0, reason: 'initial', provider: 'function:secret', user: account.user },
        { generation: 2, previousGeneration: 1, reason: 'rejected', provider: 'function:secret', user: account.user },
      ],
    );
    for (const rotation of rotations) {
      assert.match(String(rotation.fingerprint), /^[0-9a-f]{8}$/);
      assert.equal(typeof rotation.durationMs, 'number');
    }
    assert.notEqual(rotations[0].fingerprint, rotations[1].fingerprint);

    const calls = recorder.of<ProviderCallContext>(`tracing:${DIAGNOSTICS_CHANNELS.provider}:asyncEnd`);
    assert.deepEqual(
      calls.map(({ reason, generation, outcome, newGeneration }) => ({ reason, generation, outcome, newGeneration })),
      [
        { reason: 'initial', generation: 0, outcome: 'rotated', newGeneration: 1 },
        { reason: 'rejected', generation: 1, outcome: 'rotated', newGeneration: 2 },
      ],
    );
    assert.equal(recorder.of(`tracing:${DIAGNOSTICS_CHANNELS.provider}:start`).length, 2);

    const refused = recorder.of<LoginRefusedMessage>(DIAGNOSTICS_CHANNELS.loginRefused);
    assert.deepEqual(refused, [
      { generation: 1, user: account.user, host: server.host, port: server.port, errno: 1045, code: 'ER_ACCESS_DENIED_ERROR' },
    ]);

    assert.deepEqual(recorder.of<DrainMessage>(DIAGNOSTICS_CHANNELS.drain), [{ generation: 2, mode: 'graceful', stale: 2 }]);
    const opened = recorder.of<ConnectionMessage>(DIAGNOSTICS_CHANNELS.connectionOpen);
    assert.deepEqual(
      opened.map((m) => m.generation),
      [1, 1, 2],
    );
    const discarded = recorder.of<ConnectionDiscardMessage>(DIAGNOSTICS_CHANNELS.connectionDiscard);
    assert.deepEqual(
      discarded.map(({ connectionId, threadId, generation, reason }) => ({ connectionId, threadId, generation, reason })),
      opened.slice(0, 2).map(({ connectionId, threadId }) => ({ connectionId, threadId, generation: 1, reason: 'stale' })),
    );
    // Every connection that opened closed, once: the stale ones when discarded, the last at end().
    const closed = recorder.of<ConnectionMessage>(DIAGNOSTICS_CHANNELS.connectionClose);
    assert.deepEqual(closed.map((m) => m.connectionId).sort(), opened.map((m) => m.connectionId).sort());
  });

  it('run the provider inside its trace, so stores bound to its start channel reach the provider', async function () {
    const store = new AsyncLocalStorage<ProviderCallContext>();
    const start = dc.tracingChannel<unknown, ProviderCallContext>(DIAGNOSTICS_CHANNELS.provider).start;
    start.bindStore(store, (context) => context);
    try {
      let seen: ProviderCallContext | undefined;
      const coordinator = new RotationCoordinator({
        provider: async function traced() {
          await Promise.resolve();
          seen = store.getStore();
          return { user: 'app', password: 'p' };
        },
      });
      await coordinator.acquire();
      await coordinator.close();
      assert.deepEqual(
        { provider: seen?.provider, reason: seen?.reason, generation: seen?.generation },
        { provider: 'function:traced', reason: 'initial', generation: 0 },
      );
    } finally {
      start.unbindStore(store);
    }
  });

  it('end the trace of a provider call that timed out with its outcome, duration and error', async function () {
    const clock = sinon.useFakeTimers();
    const recorder = recording();
    try {
      const coordinator = new RotationCoordinator({
        provider: function hung() {
          return new Promise<never>(() => {});
        },
        timeoutMs: 1_000,
      });
      const waiting = coordinator.acquire().then(
        () => assert.fail('expected a timeout'),
        (error: Error & { code?: string }) => error.code,
      );
      await clock.tickAsync(1_000);
      assert.equal(await waiting, 'CREDSWAP_ROTATION_TIMEOUT');
      await coordinator.close();
    } finally {
      clock.restore();
    }
    const [ended] = recorder.of<ProviderCallContext>(`tracing:${DIAGNOSTICS_CHANNELS.provider}:asyncEnd`);
    assert.equal(ended.outcome, 'timeout');
    assert.equal(ended.durationMs, 1_000);
    assert.equal((ended.error as Error & { code?: string }).code, 'CREDSWAP_ROTATION_TIMEOUT');
    assert.equal(recorder.of(`tracing:${DIAGNOSTICS_CHANNELS.provider}:error`).length, 1);
    assert.deepEqual(
      recorder.of<{ reason: string; code: string }>(DIAGNOSTICS_CHANNELS.rotationError).map(({ reason, code }) => ({ reason, code })),
      [{ reason: 'initial', code: 'CREDSWAP_ROTATION_TIMEOUT' }],
    );
  });

  it('give a pushed rotation no duration: no provider call made it', async function () {
    const recorder = recording([DIAGNOSTICS_CHANNELS.rotation]);
    let push: ((credentials: Credentials) => void) | undefined;
    const coordinator = new RotationCoordinator({
      provider: {
        name: 'pushing',
        getCredentials: async () => ({ user: 'app', password: 'first' }),
        subscribe: (onChange) => {
          push = onChange;
          return () => {};
        },
      },
    });
    await coordinator.acquire();
    push!({ user: 'app', password: 'second' });
    await coordinator.close();
    const [initial, pushed] = recorder.of<RotationMessage>(DIAGNOSTICS_CHANNELS.rotation);
    assert.equal(typeof initial.durationMs, 'number');
    assert.equal(pushed.reason, 'push');
    assert.ok(!('durationMs' in pushed));
  });

  describe(`mysql2's ${MYSQL2_POOL_CONNECT_CHANNEL}`, function () {
    const channels = TRACE_EVENTS.map((event) => `tracing:${MYSQL2_POOL_CONNECT_CHANNEL}:${event}`);

    it("is published around each login of a credswap pool, with mysql2's context", async function () {
      const account = await server.createUser({ prefix: 'diag', grants: `ALL ON \`${database}\`.*` });
      const options = { host: server.host, port: server.port, database, user: account.user, password: account.password };
      const plain = mysql2.createPool(options).promise();
      const fromMysql2 = recording(channels);
      try {
        (await plain.getConnection()).release();
      } finally {
        fromMysql2.stop();
        await plain.end();
      }
      const recorder = recording(channels);
      const p = createPool({
        ...options,
        password: undefined,
        credentials: async () => ({ user: account.user, password: account.password }),
      });
      pools.push(p);
      const connection = await p.getConnection();
      connection.release();
      (await p.getConnection()).release(); // an idle connection: no login, no trace

      const context = (recorded: ReturnType<typeof record>) => {
        const started = recorded.of<Mysql2PoolConnectContext>(channels[0])[0];
        const { database: db, serverAddress, serverPort } = started;
        return { database: db, serverAddress, serverPort, keys: Object.keys(started).sort() };
      };
      assert.deepEqual(context(recorder), context(fromMysql2));
      assert.deepEqual(
        recorder.messages.map((m) => m.channel),
        channels.filter((name) => !name.endsWith(':error')),
      );
      const ended = recorder.of<Mysql2PoolConnectContext>(channels[3])[0];
      assert.equal((ended.result as { threadId: number }).threadId, connection.threadId);
    });

    it('ends with the error when the login fails', async function () {
      const recorder = recording(channels);
      const p = createPool({ host: server.host, port: server.port, user: 'nobody', password: 'wrong', connectionLimit: 1 });
      pools.push(p);
      await p.getConnection().then(
        () => assert.fail('expected 1045'),
        (error: Error & { errno?: number }) => assert.equal(error.errno, 1045),
      );
      const [failed] = recorder.of<Mysql2PoolConnectContext>(channels[4]);
      assert.equal((failed.error as { errno?: number }).errno, 1045);
    });
  });
});
