/**
 * The wire: the errors the emulator answers, with AWS's names, status codes and wording, and
 * how a request body is read and an answer written (JSON 1.1).
 *
 * @packageDocumentation
 */

import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * An error answered to the client. `framework` errors (authentication, throttling, protocol)
 * carry `message` in lower case, as AWS's request layer writes them; the service's own errors
 * carry `Message`.
 */
export class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string | undefined,
    readonly status = 400,
    readonly framework = false,
  ) {
    super(message ?? '');
    this.name = type;
  }

  body(): Record<string, string> {
    const body: Record<string, string> = { __type: this.type };
    if (this.message !== '') body[this.framework ? 'message' : 'Message'] = this.message;
    return body;
  }
}

const MSG_NOT_FOUND = "Secrets Manager can't find the specified secret.";
export const MSG_MARKED_FOR_DELETION = "You can't perform this operation on the secret because it was marked for deletion.";

export const notFound = (): AwsError => new AwsError('ResourceNotFoundException', MSG_NOT_FOUND);
export const invalidParameter = (message: string): AwsError => new AwsError('InvalidParameterException', message);
export const invalidRequest = (message: string): AwsError => new AwsError('InvalidRequestException', message);
export const validation = (message: string): AwsError =>
  new AwsError('ValidationException', `1 validation error detected: ${message}`, 400, true);
export const serialization = (message?: string): AwsError => new AwsError('SerializationException', message, 400, true);

export const DEFAULT_FAULT_MESSAGES: Record<string, string> = {
  ThrottlingException: 'Rate exceeded',
  InternalServiceError: 'An error occurred on the server side.',
  DecryptionFailure: "Secrets Manager can't decrypt the protected secret text using the provided KMS key.",
  LimitExceededException: 'The request failed because it would exceed one of the Secrets Manager quotas.',
  ResourceNotFoundException: MSG_NOT_FOUND,
};
/** Request-layer errors, written with a lower-case `message` like AWS's front end writes them. */
export const FRAMEWORK_ERRORS = new Set([
  'ThrottlingException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'AccessDeniedException',
  'ExpiredTokenException',
]);

const MAX_BODY_BYTES = 1024 * 1024;

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Keep reading (and dropping) an oversized body, so that the answer can still be written.
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => (size > MAX_BODY_BYTES ? reject(serialization('Request body is too large')) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

export function send(res: ServerResponse, requestId: string, status: number, body: unknown, errorType?: string): void {
  if (res.destroyed) return;
  const text = JSON.stringify(body);
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/x-amz-json-1.1',
    'Content-Length': Buffer.byteLength(text),
    'x-amzn-RequestId': requestId,
  };
  if (errorType !== undefined) headers['x-amzn-ErrorType'] = errorType;
  res.writeHead(status, headers);
  res.end(text);
}
