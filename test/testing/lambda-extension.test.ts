import assert from 'node:assert/strict';
import { request, type IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:net';
import {
  startLambdaExtensionEmulator,
  type LambdaExtensionEmulator,
  type LambdaExtensionEmulatorOptions,
} from '../../lib/testing/lambda-extension.js';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../../lib/testing/secrets-manager.js';

const TOKEN = 'Qz7Xw2Vb9Kq4Jt8Yp3Rm6Ln1Hd5Gs0Fc';
const SECRET = 'extension/db';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request on its own connection, with exactly the headers given. */
function send(
  e: LambdaExtensionEmulator,
  path: string,
  headers: Record<string, string> = { 'X-Aws-Parameters-Secrets-Token': TOKEN },
  method = 'GET',
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: e.host, port: e.port, path, method, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('testing/lambda-extension', () => {
  let sm: SecretsManagerEmulator;
  let extensions: LambdaExtensionEmulator[];

  before(async () => {
    sm = await startSecretsManagerEmulator();
    sm.putSecret(SECRET, { username: 'app', password: 'Zq9xK7vPmW' });
  });

  after(() => sm.close());

  beforeEach(() => {
    extensions = [];
  });

  afterEach(async () => {
    await Promise.all(extensions.map((e) => e.close()));
  });

  async function start(options: Partial<LambdaExtensionEmulatorOptions> = {}): Promise<LambdaExtensionEmulator> {
    const e = await startLambdaExtensionEmulator({ secretsManager: { ...sm.clientConfig(), maxAttempts: 1 }, token: TOKEN, ...options });
    extensions.push(e);
    return e;
  }

  describe("the Secrets Manager Agent (flavor 'agent')", () => {
    it('accepts the token in X-Vault-Token too', async () => {
      const e = await start();
      const answer = await send(e, `/secretsmanager/get?secretId=${SECRET}`, { 'X-Vault-Token': TOKEN });
      assert.equal(answer.status, 200);
      assert.equal(JSON.parse(answer.body).Name, SECRET);
    });

    it('refuses a forwarded request with 400 Forwarded, even with the token', async () => {
      const e = await start();
      const answer = await send(e, `/secretsmanager/get?secretId=${SECRET}`, {
        'X-Aws-Parameters-Secrets-Token': TOKEN,
        'X-Forwarded-For': '203.0.113.7',
      });
      assert.deepEqual([answer.status, answer.body], [400, 'Forwarded']);
    });

    it('answers 405 to a method other than GET, after the token check', async () => {
      const e = await start();
      const path = `/secretsmanager/get?secretId=${SECRET}`;
      assert.deepEqual(await send(e, path, {}, 'POST').then((a) => [a.status, a.body]), [403, 'Bad Token']);
      assert.deepEqual(await send(e, path, undefined, 'POST').then((a) => [a.status, a.body]), [405, 'Not allowed']);
    });

    it('answers 400 naming an unknown query parameter, and to a refreshNow that is not a boolean', async () => {
      const e = await start();
      assert.deepEqual(await send(e, `/secretsmanager/get?secretId=${SECRET}&versionstage=AWSCURRENT`).then((a) => [a.status, a.body]), [
        400,
        'unknown parameter: versionstage',
      ]);
      assert.deepEqual(await send(e, `/secretsmanager/get?secretId=${SECRET}&refreshNow=maybe`).then((a) => [a.status, a.body]), [
        400,
        'invalid refreshNow value',
      ]);
    });

    it('answers 400 without a secretId and 404 on another path', async () => {
      const e = await start();
      assert.deepEqual(await send(e, '/secretsmanager/get').then((a) => [a.status, a.body]), [400, 'missing parameter secretId']);
      assert.deepEqual(await send(e, '/systemsmanager/parameters/get?name=x').then((a) => [a.status, a.body]), [404, 'Not found']);
    });

    it("answers 400 unknown parameter: refreshNow as version 1.0 ('agent-1.0') did", async () => {
      const e = await start({ flavor: 'agent-1.0' });
      const answer = await send(e, `/secretsmanager/get?secretId=${SECRET}&refreshNow=true`);
      assert.deepEqual([answer.status, answer.body], [400, 'unknown parameter: refreshNow']);
      assert.equal((await send(e, `/secretsmanager/get?secretId=${SECRET}`)).status, 200);
    });

    it('reads again, without DescribeSecret, once ttlMs is 0', async () => {
      const e = await start({ ttlMs: 0 });
      await send(e, `/secretsmanager/get?secretId=${SECRET}`);
      await send(e, `/secretsmanager/get?secretId=${SECRET}`);
      assert.deepEqual({ ...e.calls }, { requests: 2, GetSecretValue: 2, DescribeSecret: 0 });
    });

    it('answers 502 ConnectionError when Secrets Manager cannot be reached', async () => {
      const port = await closedPort();
      const e = await start({ secretsManager: { ...sm.clientConfig(), endpoint: `http://127.0.0.1:${port}`, maxAttempts: 1 } });
      const answer = await send(e, `/secretsmanager/get?secretId=${SECRET}`);
      assert.equal(answer.status, 502);
      assert.deepEqual(JSON.parse(answer.body), { __type: 'ConnectionError', message: 'Read Error' });
      assert.equal(e.requests.at(-1)?.source, 'secrets-manager');
    });

    it('records each request with its parameters, status and source, and never the token', async () => {
      const e = await start();
      await send(e, `/secretsmanager/get?secretId=${SECRET}&versionStage=AWSCURRENT`);
      await send(e, `/secretsmanager/get?secretId=${SECRET}&versionStage=AWSCURRENT&refreshNow=1`);
      await send(e, `/secretsmanager/get?secretId=${SECRET}&versionStage=AWSCURRENT`);
      await send(e, `/secretsmanager/get?secretId=${SECRET}`, {});
      assert.deepEqual(
        e.requests.map((r) => ({ ...r })),
        [
          {
            method: 'GET',
            path: '/secretsmanager/get',
            secretId: SECRET,
            versionStage: 'AWSCURRENT',
            status: 200,
            source: 'secrets-manager',
          },
          {
            method: 'GET',
            path: '/secretsmanager/get',
            secretId: SECRET,
            versionStage: 'AWSCURRENT',
            refreshNow: '1',
            status: 200,
            source: 'secrets-manager',
          },
          { method: 'GET', path: '/secretsmanager/get', secretId: SECRET, versionStage: 'AWSCURRENT', status: 200, source: 'cache' },
          { method: 'GET', path: '/secretsmanager/get', status: 403, source: 'none' },
        ],
      );
      assert.equal(e.calls.requests, 4);
      assert.ok(!JSON.stringify(e.requests).includes(TOKEN));
    });
  });

  describe("the Lambda extension (flavor 'lambda-extension')", () => {
    it('answers a wrong token with 401 in plain text, AccessDeniedException, and closes the connection', async () => {
      const e = await start({ flavor: 'lambda-extension' });
      const answer = await send(e, `/secretsmanager/get?secretId=${SECRET}`, { 'X-Aws-Parameters-Secrets-Token': 'wrong' });
      assert.deepEqual([answer.status, answer.body], [401, 'bad session token or header key']);
      assert.equal(answer.headers['x-amzn-errortype'], 'AccessDeniedException');
      assert.equal(answer.headers['content-type'], 'text/plain');
      assert.equal(answer.headers.connection, 'close');
    });

    it('answers 400 not ready to serve traffic until notReadyForMs has passed', async () => {
      const e = await start({ flavor: 'lambda-extension', notReadyForMs: 150 });
      const early = await send(e, `/secretsmanager/get?secretId=${SECRET}`);
      assert.deepEqual([early.status, early.body], [400, 'not ready to serve traffic, please wait']);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal((await send(e, `/secretsmanager/get?secretId=${SECRET}`)).status, 200);
    });

    it('ignores unknown query parameters, refreshNow included, and has no /ping', async () => {
      const e = await start({ flavor: 'lambda-extension' });
      await send(e, `/secretsmanager/get?secretId=${SECRET}`);
      const answer = await send(e, `/secretsmanager/get?secretId=${SECRET}&refreshNow=true&other=1`);
      assert.equal(answer.status, 200);
      assert.equal(e.calls.GetSecretValue, 1);
      assert.equal((await send(e, '/ping', {})).status, 401);
      assert.deepEqual(await send(e, '/ping').then((a) => [a.status, a.body]), [404, 'not found']);
    });

    it('answers 405 and 400 in its own words', async () => {
      const e = await start({ flavor: 'lambda-extension' });
      assert.deepEqual(await send(e, `/secretsmanager/get?secretId=${SECRET}`, undefined, 'POST').then((a) => [a.status, a.body]), [
        405,
        'method not allowed',
      ]);
      assert.deepEqual(await send(e, '/secretsmanager/get').then((a) => [a.status, a.body]), [400, 'secretId is required']);
    });

    it('passes Secrets Manager errors on with the x-amzn-errortype header', async () => {
      const e = await start({ flavor: 'lambda-extension' });
      const answer = await send(e, '/secretsmanager/get?secretId=extension/missing');
      assert.equal(answer.status, 400);
      assert.equal(answer.headers['x-amzn-errortype'], 'ResourceNotFoundException');
      assert.equal(JSON.parse(answer.body).__type, 'ResourceNotFoundException');
    });

    it('fetches an expired entry again instead of checking it with DescribeSecret', async () => {
      const e = await start({ flavor: 'lambda-extension', ttlMs: 50 });
      await send(e, `/secretsmanager/get?secretId=${SECRET}`);
      await new Promise((resolve) => setTimeout(resolve, 80));
      await send(e, `/secretsmanager/get?secretId=${SECRET}`);
      assert.deepEqual({ ...e.calls }, { requests: 2, GetSecretValue: 2, DescribeSecret: 0 });
    });
  });
});
