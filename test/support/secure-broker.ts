import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';

/**
 * The secured local broker of scripts/kafka-secure.sh, as .ci/run announces it: KAFKA_SECURE_PLAINTEXT (set-up
 * only), KAFKA_SECURE_SASL_SSL, KAFKA_SECURE_MTLS and KAFKA_SECURE_DIR (CA, client certificates, users).
 * Undefined when the variables are absent (a local run that did not start it).
 */
export interface SecureBroker {
  plaintext: string;
  saslSsl: string;
  mtls: string;
  dir: string;
  file(name: string): string;
  read(name: string): string;
}

export function secureBroker(): SecureBroker | undefined {
  const {
    KAFKA_SECURE_PLAINTEXT: plaintext,
    KAFKA_SECURE_SASL_SSL: saslSsl,
    KAFKA_SECURE_MTLS: mtls,
    KAFKA_SECURE_DIR: dir,
  } = process.env;
  if (!plaintext || !saslSsl || !mtls || !dir) return undefined;
  return {
    plaintext,
    saslSsl,
    mtls,
    dir,
    file: (name) => join(dir, name),
    read: (name) => readFileSync(join(dir, name), 'utf8').trim(),
  };
}

/** A plain kafkajs client on the broker's PLAINTEXT listener, for creating topics and producing test input. */
export const setupKafka = (b: SecureBroker) =>
  new Kafka({ clientId: 'test-setup', brokers: [b.plaintext], logLevel: logLevel.NOTHING });

const SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../scripts/kafka-secure.sh');

/** Runs scripts/kafka-secure.sh with the same port and cache as the broker under test; rejects on a non-zero exit. */
export function secureScript(b: SecureBroker, args: string[], input?: string): Promise<string> {
  const env = { ...process.env, KAFKA_SECURE_PORT: b.plaintext.split(':')[1], AC_CACHE_DIR: resolve(b.dir, '../..') };
  return new Promise((done, fail) => {
    const child = spawn('bash', [SCRIPT, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.stdin.end(input ?? '');
    child.on('exit', (code) =>
      code === 0 ? done(out) : fail(new Error(`kafka-secure.sh ${args[0]} exited ${code}:\n${err.slice(-2000)}`)),
    );
  });
}

/**
 * The world options of a file against the secured broker: skipped locally when KAFKA_SECURE_* are absent; in CI
 * their absence fails the file (.ci/run starts scripts/kafka-secure.sh). Topics and input go through PLAINTEXT.
 */
export function secureWorld(): { skip: string | false; kafka: () => Kafka } {
  const skip = secureBroker()
    ? false
    : process.env.CI
      ? false
      : 'KAFKA_SECURE_* are not set: start `bash scripts/kafka-secure.sh start` and export its output lines';
  const kafka = () => {
    const b = secureBroker();
    if (!b)
      throw new Error(
        'KAFKA_SECURE_* are not set, and CI must run the secured-broker tests (.ci/run starts scripts/kafka-secure.sh)',
      );
    return setupKafka(b);
  };
  return { skip, kafka };
}
