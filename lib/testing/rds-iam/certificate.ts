/**
 * A self-signed TLS certificate for `localhost`, `127.0.0.1` and `::1`, made in memory with
 * Node's crypto (an ECDSA P-256 key, X.509 v3 encoded by hand in DER), so that the testing kit
 * offers TLS without OpenSSL's command line or a certificate file.
 *
 * @packageDocumentation
 */

import { generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';

/** A certificate and its key, in PEM. The certificate is its own authority: trust it with `ca`. */
export interface TestCertificate {
  /** The certificate, for the server's `cert` and the client's `ca`. */
  readonly cert: string;
  /** The private key, for the server's `key`. */
  readonly key: string;
}

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let rest = n; rest > 0; rest >>= 8) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

const tlv = (tag: number, ...content: Buffer[]): Buffer => {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
};
const sequence = (...items: Buffer[]): Buffer => tlv(0x30, ...items);

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const bytes = [40 * a + b];
  for (const part of rest) {
    const base128 = [part & 0x7f];
    for (let n = part >> 7; n > 0; n >>= 7) base128.unshift((n & 0x7f) | 0x80);
    bytes.push(...base128);
  }
  return tlv(0x06, Buffer.from(bytes));
}

const ECDSA_WITH_SHA256 = sequence(oid('1.2.840.10045.4.3.2'));
const NAME = sequence(tlv(0x31, sequence(oid('2.5.4.3'), tlv(0x0c, Buffer.from('credswap testing kit')))));
/** Valid from 2000 to 2049 (UTCTime's range): tests that move the clock never leave it. */
const VALIDITY = sequence(tlv(0x17, Buffer.from('000101000000Z')), tlv(0x17, Buffer.from('491231235959Z')));
const SUBJECT_ALT_NAMES = sequence(
  tlv(0x82, Buffer.from('localhost')),
  tlv(0x87, Buffer.from([127, 0, 0, 1])),
  tlv(0x87, Buffer.from([...new Array<number>(15).fill(0), 1])),
);
const EXTENSIONS = tlv(
  0xa3,
  sequence(
    sequence(oid('2.5.29.19'), tlv(0x01, Buffer.from([0xff])), tlv(0x04, sequence(tlv(0x01, Buffer.from([0xff]))))),
    sequence(oid('2.5.29.17'), tlv(0x04, SUBJECT_ALT_NAMES)),
  ),
);

/**
 * Makes a new self-signed certificate for `localhost`, `127.0.0.1` and `::1`.
 *
 * @example
 * ```ts
 * const { cert, key } = selfSignedCertificate();
 * tls.createServer({ cert, key });
 * mysql.createConnection({ host: '127.0.0.1', ssl: { ca: cert } });
 * ```
 */
export function selfSignedCertificate(): TestCertificate {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const serial = randomBytes(16);
  serial[0] = (serial[0] & 0x7f) | 0x40; // a positive INTEGER, minimally encoded (no leading zero byte)
  const tbs = sequence(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))), // version 3
    tlv(0x02, serial),
    ECDSA_WITH_SHA256,
    NAME,
    VALIDITY,
    NAME,
    publicKey.export({ type: 'spki', format: 'der' }),
    EXTENSIONS,
  );
  const signature = sign('sha256', tbs, privateKey);
  const der = sequence(tbs, ECDSA_WITH_SHA256, tlv(0x03, Buffer.from([0]), signature));
  const cert = new X509Certificate(der).toString();
  return { cert, key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}
