/**
 * `startRdsIamFrontEnd`: a local stand-in for an RDS endpoint with IAM database authentication.
 *
 * @packageDocumentation
 */

import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import { selfSignedCertificate } from './certificate.js';
import {
  CAPS,
  authSwitch,
  errorPacket,
  frame,
  greeting,
  handshakeResponse,
  nativePassword,
  parseAuthSwitch,
  parseGreeting,
  parseHandshakeResponse,
  PacketReader,
  type Packet,
} from './packets.js';
import { checkToken } from './token.js';
import {
  resolveFrontEndOptions,
  type FrontEndRefusal,
  type RdsIamFrontEnd,
  type RdsIamFrontEndOptions,
  type RdsIamSession,
} from './options.js';

/** What the front end masks from both sides: compression and TLS are its own business. */
const NOT_RELAYED = CAPS.COMPRESS | CAPS.SSL | CAPS.MULTI_FACTOR_AUTHENTICATION;
const ER_ACCESS_DENIED_ERROR = 1045;

/** Writes `packet` and waits for the next one from `reader`. */
async function exchange(stream: Duplex, reader: PacketReader, seq: number, payload: Buffer): Promise<Packet> {
  stream.write(frame(seq, payload));
  return reader.next();
}

/** `socket` with `prefix` in front of what it reads, for TLS when the hello came with the SSL request. */
function withPrefix(socket: Socket, prefix: Buffer): Duplex {
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(error, callback) {
      socket.destroy(error ?? undefined);
      callback(error);
    },
  });
  duplex.push(prefix);
  socket.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('close', () => duplex.destroy());
  return duplex;
}

/**
 * Starts a MySQL-protocol front end on a loopback port that logs users in the way RDS does with
 * IAM database authentication, and relays accepted sessions to a real server behind it:
 *
 * - it offers TLS (a certificate it makes itself: trust {@link RdsIamFrontEnd.ca}) and, unless
 *   `tls: false`, refuses a token sent over plain TCP;
 * - it asks for the password with `mysql_clear_password` and checks it as an RDS IAM token: the
 *   SigV4 signature with the test credentials, the endpoint (`hostname:port`) and `DBUser`, and
 *   `X-Amz-Date` + `X-Amz-Expires` against its clock (`now`, which tests can move). A refused
 *   token gets 1045, as from RDS;
 * - an accepted session logs in to the server behind it as `backend.user` and from then on the
 *   bytes pass through unchanged: the client sees that server's version and thread id.
 *
 * @example
 * ```ts
 * const server = await startMariaDB();
 * const backend = { host: server.host, port: server.port, ...(await server.createUser({ grants: 'ALL ON *.*' })) };
 * const frontEnd = await startRdsIamFrontEnd({ backend });
 * const rdsIam = new RdsIamProvider(frontEnd.providerOptions());
 * const pool = createPool({ ...rdsIam.poolOptions(), credentials: rdsIam });
 * ```
 */
export async function startRdsIamFrontEnd(options: RdsIamFrontEndOptions): Promise<RdsIamFrontEnd> {
  const o = resolveFrontEndOptions(options);
  const certificate = o.tls ? selfSignedCertificate() : undefined;
  const secureContext: SecureContext | undefined = certificate ? createSecureContext(certificate) : undefined;
  const sessions: RdsIamSession[] = [];
  const refusals: Array<{ user: string; refusal: FrontEndRefusal }> = [];
  const tokens = new Set<string>();
  /** Tokens {@link RdsIamFrontEnd.expireTokens} made expire, by digest. */
  const expired = new Set<string>();
  const sockets = new Set<Duplex>();
  let port = 0;
  /** Every socket open, for close(). */
  const track = (stream: Duplex): void => {
    sockets.add(stream);
    stream.once('close', () => sockets.delete(stream));
  };

  const refuse = (client: Duplex, seq: number, user: string, refusal: FrontEndRefusal): void => {
    refusals.push({ user, refusal });
    client.end(
      frame(seq, errorPacket(ER_ACCESS_DENIED_ERROR, '28000', `Access denied for user '${user}'@'127.0.0.1' (using password: YES)`)),
    );
  };

  async function handle(socket: Socket): Promise<void> {
    const backend = connect({ host: o.backend.host, port: o.backend.port });
    track(socket);
    track(backend);
    const closeBoth = () => {
      socket.destroy();
      backend.destroy();
    };
    socket.on('error', closeBoth);
    backend.on('error', closeBoth);
    socket.on('close', closeBoth);
    backend.on('close', closeBoth);
    const fromBackend = new PacketReader(backend);
    const serverHello = parseGreeting((await fromBackend.next()).payload);

    let client: Duplex = socket;
    let fromClient = new PacketReader(socket);
    const ownScramble = randomBytes(20);
    const offered = (serverHello.capabilities & ~NOT_RELAYED) | CAPS.PROTOCOL_41 | CAPS.SECURE_CONNECTION | CAPS.PLUGIN_AUTH;
    let reply = await exchange(
      client,
      fromClient,
      0,
      greeting({
        ...serverHello,
        scramble: ownScramble,
        capabilities: offered | (secureContext ? CAPS.SSL : 0),
        authPlugin: 'mysql_native_password',
      }),
    );
    let hello = parseHandshakeResponse(reply.payload);
    let encrypted = false;
    if (hello.sslRequest && secureContext) {
      const rest = fromClient.detach();
      const secure = new TLSSocket(rest.length > 0 ? withPrefix(socket, rest) : socket, { isServer: true, secureContext });
      track(secure);
      secure.on('error', closeBoth);
      fromClient = new PacketReader(secure);
      await once(secure, 'secure');
      client = secure;
      encrypted = true;
      reply = await fromClient.next();
      hello = parseHandshakeResponse(reply.payload);
    }
    // RDS asks an IAM user for the token in clear text, whatever the client answered first.
    const answer = await exchange(client, fromClient, reply.seq + 1, authSwitch('mysql_clear_password', Buffer.alloc(0)));
    const token = answer.payload.toString('utf8').replace(/\0$/, '');
    const okSeq = answer.seq + 1;
    if (!encrypted && o.tls) return refuse(client, okSeq, hello.user, 'no-tls');
    if (!o.users.includes(hello.user)) return refuse(client, okSeq, hello.user, 'unknown-user');
    const check = checkToken(token, {
      ...o.credentials,
      endpoint: `${o.hostname}:${port}`,
      user: hello.user,
      region: o.region,
      now: o.now(),
    });
    if (!check.ok) return refuse(client, okSeq, hello.user, check.refusal);
    const digest = createHash('sha256').update(token).digest('hex');
    if (expired.has(digest)) return refuse(client, okSeq, hello.user, 'expired');

    // The session: log in to the server behind as the backend user, with the client's options.
    const capabilities =
      (hello.capabilities &
        serverHello.capabilities &
        ~(NOT_RELAYED | CAPS.CONNECT_ATTRS | CAPS.PLUGIN_AUTH_LENENC_CLIENT_DATA | CAPS.CONNECT_WITH_DB)) |
      CAPS.PROTOCOL_41 |
      CAPS.SECURE_CONNECTION |
      CAPS.PLUGIN_AUTH |
      (hello.database !== undefined ? CAPS.CONNECT_WITH_DB : 0);
    let result = await exchange(
      backend,
      fromBackend,
      1,
      handshakeResponse({
        capabilities,
        charset: hello.charset,
        user: o.backend.user,
        auth: nativePassword(o.backend.password, serverHello.scramble),
        database: hello.database,
      }),
    );
    if (result.payload[0] === 0xfe) {
      const request = parseAuthSwitch(result.payload);
      if (request.plugin !== 'mysql_native_password') throw new Error(`the server behind asks for ${request.plugin}`);
      result = await exchange(backend, fromBackend, result.seq + 1, nativePassword(o.backend.password, request.data));
    }
    client.write(frame(okSeq, result.payload));
    if (result.payload[0] !== 0x00) {
      client.end();
      return;
    }
    tokens.add(digest);
    const session: RdsIamSession = {
      threadId: serverHello.threadId,
      user: hello.user,
      tls: encrypted,
      tokenIndex: [...tokens].indexOf(digest) + 1,
      closed: false,
    };
    sessions.push(session);
    socket.on('close', () => {
      session.closed = true;
    });
    const toBackend = fromClient.detach();
    const toClient = fromBackend.detach();
    if (toBackend.length > 0) backend.write(toBackend);
    if (toClient.length > 0) client.write(toClient);
    client.pipe(backend);
    backend.pipe(client);
  }

  const server: Server = createServer((socket) => {
    socket.setNoDelay(true);
    handle(socket).catch(() => socket.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as { port: number }).port;

  const countRefusals = (): Partial<Record<FrontEndRefusal, number>> => {
    const counts: Partial<Record<FrontEndRefusal, number>> = {};
    for (const { refusal } of refusals) counts[refusal] = (counts[refusal] ?? 0) + 1;
    return counts;
  };

  return {
    host: '127.0.0.1',
    port,
    hostname: o.hostname,
    region: o.region,
    ca: certificate?.cert,
    providerOptions: (username = o.users[0]) => ({
      hostname: o.hostname,
      port,
      username,
      region: o.region,
      credentials: { ...o.credentials },
      ...(certificate ? { ssl: { ca: certificate.cert } } : { allowPlainTcpOnLoopback: true }),
    }),
    stats: () => ({
      accepted: sessions.length,
      refused: refusals.length,
      refusals: countRefusals(),
      tokens: tokens.size,
      open: sessions.filter((s) => !s.closed).length,
      closed: sessions.filter((s) => s.closed).length,
    }),
    sessions: () => sessions.map((s) => ({ ...s })),
    expireTokens: () => {
      for (const digest of tokens) expired.add(digest);
    },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
