/**
 * The few MySQL protocol packets a login needs (greeting, handshake response, SSL request,
 * auth switch, OK and ERR) and a reader that cuts a socket's bytes into packets. After the
 * login, the front end relays bytes as they are and reads no packets.
 *
 * @packageDocumentation
 */

import { createHash } from 'node:crypto';
import type { Duplex } from 'node:stream';

/** Capability flags the front end looks at or changes. */
export const CAPS = {
  CONNECT_WITH_DB: 0x8,
  COMPRESS: 0x20,
  PROTOCOL_41: 0x200,
  SSL: 0x800,
  SECURE_CONNECTION: 0x8000,
  PLUGIN_AUTH: 0x80000,
  CONNECT_ATTRS: 0x100000,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 0x200000,
  MULTI_FACTOR_AUTHENTICATION: 0x10000000,
} as const;

/** One packet: its sequence id and payload. */
export interface Packet {
  readonly seq: number;
  readonly payload: Buffer;
}

/** Frames `payload` as packet `seq`. */
export function frame(seq: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = seq & 0xff;
  return Buffer.concat([header, payload]);
}

/** Reads packets from a socket, one `next()` at a time, until {@link detach}. */
export class PacketReader {
  #buffer = Buffer.alloc(0);
  readonly #ready: Packet[] = [];
  #waiter: { resolve: (packet: Packet) => void; reject: (error: Error) => void } | undefined;
  #ended: Error | undefined;
  readonly #stream: Duplex;
  readonly #onData = (chunk: Buffer): void => {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    while (this.#buffer.length >= 4) {
      const size = this.#buffer.readUIntLE(0, 3);
      if (this.#buffer.length < 4 + size) break;
      this.#ready.push({ seq: this.#buffer[3], payload: this.#buffer.subarray(4, 4 + size) });
      this.#buffer = this.#buffer.subarray(4 + size);
    }
    this.#settle();
  };
  readonly #onEnd = (): void => {
    this.#ended ??= new Error('the connection closed during the handshake');
    this.#settle();
  };

  constructor(stream: Duplex) {
    this.#stream = stream;
    stream.on('data', this.#onData);
    stream.on('close', this.#onEnd);
    stream.on('end', this.#onEnd);
    stream.on('error', this.#onEnd);
  }

  /** The next packet; rejects when the connection closes first. */
  next(): Promise<Packet> {
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
      this.#settle();
    });
  }

  /** Stops reading, and returns the bytes received but not read as packets. */
  detach(): Buffer {
    this.#stream.off('data', this.#onData);
    this.#stream.off('close', this.#onEnd);
    this.#stream.off('end', this.#onEnd);
    this.#stream.off('error', this.#onEnd);
    const rest = Buffer.concat([...this.#ready.map((p) => frame(p.seq, p.payload)), this.#buffer]);
    this.#ready.length = 0;
    this.#buffer = Buffer.alloc(0);
    return rest;
  }

  #settle(): void {
    const waiter = this.#waiter;
    if (!waiter) return;
    const packet = this.#ready.shift();
    if (packet) {
      this.#waiter = undefined;
      waiter.resolve(packet);
    } else if (this.#ended) {
      this.#waiter = undefined;
      waiter.reject(this.#ended);
    }
  }
}

const nulString = (payload: Buffer, at: number): [string, number] => {
  const end = payload.indexOf(0, at);
  const stop = end < 0 ? payload.length : end;
  return [payload.toString('utf8', at, stop), stop + 1];
};

/** A server's greeting (protocol 10), as the front end reads MariaDB's and writes its own. */
export interface Greeting {
  serverVersion: string;
  threadId: number;
  /** 20 bytes. */
  scramble: Buffer;
  capabilities: number;
  charset: number;
  status: number;
  authPlugin: string;
}

/** Reads a server greeting. */
export function parseGreeting(payload: Buffer): Greeting {
  if (payload[0] !== 10) throw new Error(`unexpected greeting (protocol ${payload[0]})`);
  const [serverVersion, at] = nulString(payload, 1);
  const threadId = payload.readUInt32LE(at);
  const part1 = payload.subarray(at + 4, at + 12);
  const capsLow = payload.readUInt16LE(at + 13);
  const charset = payload[at + 15];
  const status = payload.readUInt16LE(at + 16);
  const capabilities = (capsLow | (payload.readUInt16LE(at + 18) << 16)) >>> 0;
  const authLength = payload[at + 20];
  const part2At = at + 31;
  const part2Length = Math.max(13, authLength - 8);
  const part2 = payload.subarray(part2At, part2At + part2Length - 1);
  const [authPlugin] = nulString(payload, part2At + part2Length);
  return { serverVersion, threadId, scramble: Buffer.concat([part1, part2]).subarray(0, 20), capabilities, charset, status, authPlugin };
}

/** Writes a greeting (no MariaDB extended capabilities). */
export function greeting(g: Greeting): Buffer {
  const head = Buffer.alloc(4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10);
  let at = head.writeUInt32LE(g.threadId, 0);
  at += g.scramble.copy(head, at, 0, 8);
  head[at++] = 0;
  at = head.writeUInt16LE(g.capabilities & 0xffff, at);
  head[at++] = g.charset;
  at = head.writeUInt16LE(g.status, at);
  at = head.writeUInt16LE(g.capabilities >>> 16, at);
  head[at] = 21;
  return Buffer.concat([
    Buffer.from([10]),
    Buffer.from(`${g.serverVersion}\0`),
    head,
    g.scramble.subarray(8, 20),
    Buffer.from([0]),
    Buffer.from(`${g.authPlugin}\0`),
  ]);
}

/** A client's handshake response (protocol 4.1), or an SSL request when `sslRequest`. */
export interface HandshakeResponse {
  capabilities: number;
  charset: number;
  sslRequest: boolean;
  user: string;
  database: string | undefined;
}

/** Reads a client's handshake response or SSL request. */
export function parseHandshakeResponse(payload: Buffer): HandshakeResponse {
  const capabilities = payload.readUInt32LE(0);
  const charset = payload[8];
  if (payload.length === 32) return { capabilities, charset, sslRequest: true, user: '', database: undefined };
  const [user, afterUser] = nulString(payload, 32);
  let at = afterUser;
  if (capabilities & CAPS.PLUGIN_AUTH_LENENC_CLIENT_DATA) {
    const first = payload[at];
    const [size, width] =
      first < 0xfb ? [first, 1] : first === 0xfc ? [payload.readUInt16LE(at + 1), 3] : [payload.readUIntLE(at + 1, 3), 4];
    at += width + size;
  } else if (capabilities & CAPS.SECURE_CONNECTION) {
    at += 1 + payload[at];
  } else {
    at = nulString(payload, at)[1];
  }
  const database = capabilities & CAPS.CONNECT_WITH_DB && at < payload.length ? nulString(payload, at)[0] : undefined;
  return { capabilities, charset, sslRequest: false, user, database };
}

/** `mysql_native_password`'s answer to `scramble` for `password`. */
export function nativePassword(password: string, scramble: Buffer): Buffer {
  if (password === '') return Buffer.alloc(0);
  const sha1 = (...parts: Buffer[]) => createHash('sha1').update(Buffer.concat(parts)).digest();
  const stage1 = sha1(Buffer.from(password, 'utf8'));
  const mask = sha1(scramble.subarray(0, 20), sha1(stage1));
  return Buffer.from(stage1.map((byte, i) => byte ^ mask[i]));
}

/** The front end's own handshake response to the server behind it. */
export function handshakeResponse(r: { capabilities: number; charset: number; user: string; auth: Buffer; database?: string }): Buffer {
  const head = Buffer.alloc(32);
  head.writeUInt32LE(r.capabilities >>> 0, 0);
  head.writeUInt32LE(0x1000000, 4);
  head[8] = r.charset;
  return Buffer.concat([
    head,
    Buffer.from(`${r.user}\0`),
    Buffer.from([r.auth.length]),
    r.auth,
    r.database !== undefined ? Buffer.from(`${r.database}\0`) : Buffer.alloc(0),
    Buffer.from('mysql_native_password\0'),
  ]);
}

/** An auth switch request to `plugin`. */
export function authSwitch(plugin: string, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0xfe]), Buffer.from(`${plugin}\0`), data]);
}

/** Reads an auth switch request: the plugin and its data (without a trailing NUL). */
export function parseAuthSwitch(payload: Buffer): { plugin: string; data: Buffer } {
  const [plugin, at] = nulString(payload, 1);
  const data = payload.subarray(at);
  return { plugin, data: data[data.length - 1] === 0 ? data.subarray(0, -1) : data };
}

/** An ERR packet. */
export function errorPacket(errno: number, sqlState: string, message: string): Buffer {
  const head = Buffer.alloc(3);
  head[0] = 0xff;
  head.writeUInt16LE(errno, 1);
  return Buffer.concat([head, Buffer.from(`#${sqlState}${message}`)]);
}
