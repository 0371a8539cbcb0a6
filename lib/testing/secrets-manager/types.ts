/**
 * The shapes the emulator's modules share: a request's input, a secret value, and a secret with
 * its versions as the store keeps them.
 *
 * @packageDocumentation
 */

/** A request's parameters: the JSON object of its body. */
export type Input = Record<string, unknown>;

/** A secret value: `SecretString`, or `SecretBinary` decoded from base64. */
export type Value = { string: string } | { binary: Buffer };

export interface Version {
  id: string;
  stages: string[];
  created: number;
  lastAccessed?: number;
  string?: string;
  binary?: Buffer;
}

export interface Tag {
  Key?: string;
  Value?: string;
}

export interface RotationRules {
  AutomaticallyAfterDays?: number;
  Duration?: string;
  ScheduleExpression?: string;
}

export interface Secret {
  arn: string;
  name: string;
  description?: string;
  kmsKeyId?: string;
  tags?: Tag[];
  created: number;
  lastChanged: number;
  lastAccessed?: number;
  deleted?: number;
  /** When a secret scheduled for deletion is purged (epoch ms). */
  purgeAt?: number;
  /** In creation order. */
  versions: Map<string, Version>;
  rotationEnabled: boolean;
  rotationLambdaArn?: string;
  rotationRules?: RotationRules;
  lastRotated?: number;
  nextRotation?: number;
}
