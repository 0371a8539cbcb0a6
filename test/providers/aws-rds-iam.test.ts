/**
 * RdsIamProvider on its own: the tokens the real `@aws-sdk/rds-signer` signs, their expiry, the
 * pool options it hands out and the auth plugin that sends a token only over TLS.
 */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import sinon from 'sinon';
import { ClosedError, InvalidOptionError } from '../../lib/errors.js';
import { checkToken } from '../../lib/testing/rds-iam/token.js';
import { DEFAULT_RDS_PORT, DEFAULT_RDS_SSL, RDS_IAM_TOKEN_LIFETIME_MS, RdsIamProvider } from '../../providers/aws/rds-iam.js';
import { clearPasswordOverTls } from '../../providers/aws/rds-iam-plugin.js';

const CREDENTIALS = { accessKeyId: 'AKIDRDSIAMTEST', secretAccessKey: 'rds-iam-secret-key-not-real' };
const OPTIONS = {
  hostname: 'orders.cluster-abc.eu-west-1.rds.amazonaws.com',
  username: 'app',
  region: 'eu-west-1',
  credentials: CREDENTIALS,
};
const signal = () => new AbortController().signal;

describe('RdsIamProvider', function () {
  let clock: sinon.SinonFakeTimers | undefined;

  afterEach(function () {
    clock?.restore();
    clock = undefined;
  });

  it('signs a token for the endpoint and user, marked as a token, expiring 15 minutes after signing', async function () {
    const start = Date.UTC(2026, 2, 4, 10, 0, 0);
    clock = sinon.useFakeTimers({ now: start, toFake: ['Date'] });
    const provider = new RdsIamProvider(OPTIONS);
    const creds = await provider.getCredentials(signal(), undefined, { reason: 'initial' });
    assert.equal(creds.user, 'app');
    assert.equal(creds.kind, 'token');
    assert.equal(creds.expiresAt, start + RDS_IAM_TOKEN_LIFETIME_MS);
    assert.match(creds.password, /^orders\.cluster-abc\.eu-west-1\.rds\.amazonaws\.com:3306\/\?Action=connect&DBUser=app&/);
    const check = checkToken(creds.password, {
      ...CREDENTIALS,
      endpoint: `${OPTIONS.hostname}:${DEFAULT_RDS_PORT}`,
      user: 'app',
      region: 'eu-west-1',
      now: start,
    });
    assert.deepEqual(check, { ok: true, expiresAt: start + RDS_IAM_TOKEN_LIFETIME_MS });
  });

  it('signs a new token at each call (the coordinator decides how often)', async function () {
    clock = sinon.useFakeTimers({ now: Date.UTC(2026, 2, 4, 10, 0, 0), toFake: ['Date'] });
    const provider = new RdsIamProvider({ ...OPTIONS, port: 3307 });
    const first = await provider.getCredentials(signal(), undefined, { reason: 'initial' });
    clock.tick(840_000);
    const second = await provider.getCredentials(signal(), undefined, { reason: 'expiring' });
    assert.notEqual(second.password, first.password);
    assert.equal(second.expiresAt, (first.expiresAt as number) + 840_000);
    assert.match(second.password, /:3307\/\?/);
  });

  it('rejects with the signal reason when the signal has fired, and with ClosedError after close()', async function () {
    const provider = new RdsIamProvider(OPTIONS);
    const controller = new AbortController();
    const reason = new Error('stop');
    controller.abort(reason);
    await assert.rejects(provider.getCredentials(controller.signal, undefined, { reason: 'initial' }), (e) => e === reason);
    provider.close();
    await assert.rejects(provider.getCredentials(signal(), undefined, { reason: 'initial' }), ClosedError);
  });

  it('hands out pool options: the endpoint, TLS with the RDS authorities, and the clear-password plugin', function () {
    const provider = new RdsIamProvider(OPTIONS);
    const options = provider.poolOptions();
    assert.equal(options.host, OPTIONS.hostname);
    assert.equal(options.port, DEFAULT_RDS_PORT);
    assert.equal(options.ssl, DEFAULT_RDS_SSL);
    assert.equal(typeof options.authPlugins.mysql_clear_password, 'function');
  });

  it('gives a fresh ssl object each time, since mysql2 writes into it', function () {
    const provider = new RdsIamProvider({ ...OPTIONS, ssl: { ca: 'PEM', verifyIdentity: true } });
    const first = provider.poolOptions().ssl as { rejectUnauthorized?: boolean };
    first.rejectUnauthorized = false;
    assert.deepEqual(provider.poolOptions().ssl, { ca: 'PEM', verifyIdentity: true });
  });

  it('leaves ssl out only with allowPlainTcpOnLoopback and no ssl option', function () {
    assert.equal('ssl' in new RdsIamProvider({ ...OPTIONS, allowPlainTcpOnLoopback: true }).poolOptions(), false);
    assert.deepEqual(new RdsIamProvider({ ...OPTIONS, allowPlainTcpOnLoopback: true, ssl: { ca: 'PEM' } }).poolOptions().ssl, {
      ca: 'PEM',
    });
  });

  it('is named after the user and endpoint, and shows no AWS secret', function () {
    const provider = new RdsIamProvider(OPTIONS);
    assert.equal(provider.name, `rds-iam:app@${OPTIONS.hostname}:3306`);
    assert.ok(!inspect(provider, { depth: 5 }).includes(CREDENTIALS.secretAccessKey));
    assert.ok(!JSON.stringify(provider).includes(CREDENTIALS.secretAccessKey));
  });

  for (const [what, options, option] of [
    ['no hostname', { username: 'app' }, 'hostname'],
    ['no username', { hostname: 'db' }, 'username'],
    ['a port out of range', { ...OPTIONS, port: 70_000 }, 'port'],
    ['an unknown option', { ...OPTIONS, expiresIn: 60 }, 'expiresIn'],
    ['credentials that are a string', { ...OPTIONS, credentials: 'AKID:secret' }, 'credentials'],
    ['an ssl that is a number', { ...OPTIONS, ssl: 1 }, 'ssl'],
  ] as const) {
    it(`rejects ${what} with InvalidOptionError naming '${option}'`, function () {
      assert.throws(
        () => new RdsIamProvider(options as never),
        (e: unknown) => e instanceof InvalidOptionError && e.option === option && !e.message.includes('AKID:'),
      );
    });
  }

  describe('the mysql_clear_password plugin', function () {
    const TOKEN = 'db:3306/?Action=connect&DBUser=app&X-Amz-Signature=abc';
    const connection = (stream: { encrypted?: boolean; remoteAddress?: string }) => ({
      stream,
      config: { password: TOKEN, host: 'db', port: 3306 },
    });

    it('sends the token, NUL-terminated, over TLS', function () {
      const answer = clearPasswordOverTls(
        "provider 'p'",
        false,
      )({ connection: connection({ encrypted: true, remoteAddress: '10.0.0.7' }), command: {} });
      assert.equal(answer(Buffer.alloc(0)).toString(), `${TOKEN}\0`);
    });

    it('refuses plain TCP with InvalidOptionError naming ssl, never the token', function () {
      const plugin = clearPasswordOverTls("provider 'p'", false);
      for (const remoteAddress of ['10.0.0.7', '127.0.0.1']) {
        assert.throws(
          () => plugin({ connection: connection({ remoteAddress }), command: {} }),
          (e: unknown) => e instanceof InvalidOptionError && e.option === 'ssl' && !e.message.includes(TOKEN),
        );
      }
    });

    it('with allowPlainTcpOnLoopback, sends over plain TCP to a loopback address only', function () {
      const plugin = clearPasswordOverTls("provider 'p'", true);
      assert.equal(
        plugin({ connection: connection({ remoteAddress: '127.0.0.1' }), command: {} })(Buffer.alloc(0)).toString(),
        `${TOKEN}\0`,
      );
      assert.throws(() => plugin({ connection: connection({ remoteAddress: '10.0.0.7' }), command: {} }), InvalidOptionError);
    });
  });
});
