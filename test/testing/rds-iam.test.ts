/**
 * The RDS IAM front end of the testing kit: it checks tokens from the real `@aws-sdk/rds-signer`
 * as RDS does, over TLS, and relays accepted sessions to a real MariaDB.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import mysql from 'mysql2/promise';
import { startTestServer } from '../../lib/testing/mariadb.js';
import type { MariaDBServer } from '../../lib/testing/server/admin.js';
import { startRdsIamFrontEnd } from '../../lib/testing/rds-iam.js';
import type { RdsIamBackend, RdsIamFrontEnd, RdsIamFrontEndOptions } from '../../lib/testing/rds-iam.js';
import { RdsIamProvider } from '../../providers/aws/rds-iam.js';

describe('startRdsIamFrontEnd', function () {
  let server: MariaDBServer;
  let backend: RdsIamBackend;
  let frontEnd: RdsIamFrontEnd | undefined;
  const connections: mysql.Connection[] = [];

  before(async function () {
    server = await startTestServer();
    const { user, password } = await server.createUser({ prefix: 'iam' });
    backend = { host: server.host, port: server.port, user, password };
  });

  after(async function () {
    await server?.stop();
  });

  afterEach(async function () {
    await Promise.all(connections.splice(0).map((c) => c.end().catch(() => {})));
    await frontEnd?.close();
    frontEnd = undefined;
  });

  async function start(options: Partial<RdsIamFrontEndOptions> = {}): Promise<RdsIamFrontEnd> {
    frontEnd = await startRdsIamFrontEnd({ backend, ...options });
    return frontEnd;
  }

  /** A token from the real signer, for the front end unless `override` changes what it is signed for. */
  async function token(fe: RdsIamFrontEnd, override: Partial<ReturnType<RdsIamFrontEnd['providerOptions']>> = {}): Promise<string> {
    const provider = new RdsIamProvider({ ...fe.providerOptions(), ...override });
    return (await provider.getCredentials(new AbortController().signal, undefined, { reason: 'initial' })).password;
  }

  /** Logs in to `fe` with `password` the way RdsIamProvider's pool options do. */
  async function login(fe: RdsIamFrontEnd, password: string, options: { user?: string; tls?: boolean } = {}): Promise<mysql.Connection> {
    const rdsIam = new RdsIamProvider({ ...fe.providerOptions(options.user), allowPlainTcpOnLoopback: true });
    const { ssl: _ssl, ...plain } = rdsIam.poolOptions();
    const connection = await mysql.createConnection({
      ...(options.tls === false ? plain : rdsIam.poolOptions()),
      user: options.user ?? backend.user,
      password,
    });
    connections.push(connection);
    return connection;
  }

  async function refusal(fe: RdsIamFrontEnd, password: string, options: { user?: string; tls?: boolean } = {}): Promise<unknown> {
    const error: unknown = await login(fe, password, options).then(
      () => assert.fail('the login worked'),
      (e: unknown) => e,
    );
    assert.equal((error as { errno?: number }).errno, 1045, String(error));
    assert.equal((error as { sqlState?: string }).sqlState, '28000');
    assert.ok(!String((error as Error).message).includes('X-Amz-Signature'), 'the token is not echoed');
    return error;
  }

  it('accepts a signed token over TLS and relays the session to the server behind it', async function () {
    const fe = await start();
    const connection = await login(fe, await token(fe));
    const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT CONNECTION_ID() AS id, CURRENT_USER() AS who');
    assert.equal(rows[0].id, connection.threadId, "the client's thread id is the server's");
    assert.match(String(rows[0].who), new RegExp(`^${backend.user}@`));
    assert.deepEqual(
      fe.sessions().map(({ threadId, tls, tokenIndex, closed }) => ({ threadId, tls, tokenIndex, closed })),
      [{ threadId: connection.threadId, tls: true, tokenIndex: 1, closed: false }],
    );
    const [executed] = await connection.execute<mysql.RowDataPacket[]>('SELECT ? + 1 AS n', [41]);
    assert.equal(executed[0].n, 42, 'prepared statements pass through too');
  });

  it('counts one token for many logins with it', async function () {
    const fe = await start();
    const password = await token(fe);
    for (let i = 0; i < 3; i++) await login(fe, password);
    assert.deepEqual({ accepted: fe.stats().accepted, tokens: fe.stats().tokens }, { accepted: 3, tokens: 1 });
  });

  it('refuses a forged token (signed with another secret key) with 1045', async function () {
    const fe = await start();
    const forged = await token(fe, { credentials: { ...fe.providerOptions().credentials, secretAccessKey: 'not-the-key' } });
    await refusal(fe, forged);
    assert.deepEqual(fe.stats().refusals, { 'bad-signature': 1 });
    assert.equal(fe.stats().accepted, 0);
  });

  it('refuses a token that has expired by its clock with 1045', async function () {
    let skew = 0;
    const fe = await start({ now: () => Date.now() + skew });
    const password = await token(fe);
    skew = 15 * 60 * 1000;
    await refusal(fe, password);
    skew = 15 * 60 * 1000 - 5_000;
    await login(fe, password);
    assert.deepEqual(fe.stats().refusals, { expired: 1 });
  });

  it('expireTokens() refuses the tokens used so far and keeps their sessions; a new token logs in', async function () {
    const fe = await start();
    const first = await token(fe);
    const open = await login(fe, first);
    fe.expireTokens();
    await refusal(fe, first);
    const [rows] = await open.query<mysql.RowDataPacket[]>('SELECT 1 AS one');
    assert.equal(rows[0].one, 1, 'the session opened with it still works');
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // a token is signed to the second
    await login(fe, await token(fe));
    assert.deepEqual(fe.stats().refusals, { expired: 1 });
  });

  it('refuses a token signed for another endpoint, region, access key or user', async function () {
    const fe = await start({ users: [backend.user, 'reporting'] });
    await refusal(fe, await token(fe, { hostname: 'localhost' }));
    await refusal(fe, await token(fe, { region: 'eu-west-1' }));
    await refusal(fe, await token(fe, { credentials: { accessKeyId: 'AKIDOTHER', secretAccessKey: 'x' } }));
    await refusal(fe, await token(fe, { username: 'reporting' }));
    await refusal(fe, await token(fe), { user: 'nobody' });
    assert.deepEqual(fe.stats().refusals, {
      'wrong-endpoint': 1,
      'wrong-scope': 1,
      'unknown-access-key': 1,
      'wrong-user': 1,
      'unknown-user': 1,
    });
  });

  it('refuses a token sent over plain TCP when it offers TLS', async function () {
    const fe = await start();
    await refusal(fe, await token(fe), { tls: false });
    assert.deepEqual(fe.stats().refusals, { 'no-tls': 1 });
  });

  it('with tls: false, offers no TLS and accepts tokens over plain TCP', async function () {
    const fe = await start({ tls: false });
    assert.equal(fe.ca, undefined);
    assert.equal(fe.providerOptions().allowPlainTcpOnLoopback, true);
    await login(fe, await token(fe), { tls: false });
    assert.equal(fe.sessions()[0].tls, false);
  });

  it('starts TLS when the client hello arrives in the same write as the SSL request', async function () {
    const fe = await start();
    const socket = connect({ host: fe.host, port: fe.port });
    const [greetingChunk] = (await once(socket, 'data')) as [Buffer];
    assert.equal(greetingChunk[4], 10, 'a protocol 10 greeting');
    // A TLS client whose first write (its hello) is held back, to go out with the SSL request.
    let hello: ((chunk: Buffer) => void) | undefined;
    const firstWrite = new Promise<Buffer>((resolve) => (hello = resolve));
    const transport = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        if (hello) {
          hello(chunk);
          hello = undefined;
        } else socket.write(chunk);
        callback();
      },
    });
    socket.on('data', (chunk: Buffer) => transport.push(chunk));
    const secure = tlsConnect({ socket: transport, ca: fe.ca, servername: 'localhost' });
    const sslRequest = Buffer.alloc(32);
    sslRequest.writeUInt32LE(0x800 | 0x200 | 0x8000 | 0x80000, 0);
    sslRequest.writeUInt32LE(0x1000000, 4);
    sslRequest[8] = 33;
    const header = Buffer.from([32, 0, 0, 1]);
    socket.write(Buffer.concat([header, sslRequest, await firstWrite]));
    await once(secure, 'secureConnect');
    assert.equal(secure.authorized, true);
    secure.destroy();
    socket.destroy();
  });

  it('marks a session closed when its client ends it', async function () {
    const fe = await start();
    const connection = await login(fe, await token(fe));
    await connection.end();
    await waitFor(() => fe.stats().closed === 1);
    assert.equal(fe.stats().open, 0);
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
  for (let i = 0; i < 100 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(condition(), 'condition not met');
}
