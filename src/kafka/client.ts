import { readFileSync } from 'node:fs';
import { Kafka, logLevel, Partitioners, type KafkaConfig, type ProducerConfig, type SASLOptions } from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../domain/errors.js';
import { secretReader } from '../config/secret.js';
// Every client built here reads snappy, lz4 and zstd as well as gzip.
import './codecs.js';
import { installPartitionGrouping } from './partition-grouping.js';
import { installProduceEncoding } from './produce-encoding.js';
import { installRecordDecoding } from './record-decoding.js';
import { installResponseRemainder } from './response-remainder.js';
import { checkTls } from './tls-check.js';

/**
 * The one place that builds a kafkajs client: brokers, TLS, SASL (secrets from env or files), logging via pino.
 * Every connect() of its admin clients, producers and consumers first checks TLS once (tls-check.ts) and turns
 * a refused login or certificate into a ConfigError naming kafka.sasl or kafka.ssl: neither mends by waiting.
 */
export function createKafka(config: Config['kafka'], log: Logger, clientIdSuffix = ''): Kafka {
  if (!installRecordDecoding())
    log.warn(
      'The record decoder with linear headers is not installed (kafkajs fetched before it, or is not the ' +
        'version it replaces): a record with very many headers takes kafkajs time in their square',
    );
  if (!installProduceEncoding())
    log.warn('kafkajs produced before the one-pass Produce encoder was installed: it keeps its own (slower) one');
  if (!installPartitionGrouping())
    log.warn(
      'The linear partition grouping is not installed (kafkajs loaded before it: an entry point must import ' +
        'src/kafka/partition-grouping.ts first; or kafkajs is not the version it replaces): a produced batch ' +
        'costs kafkajs memory in the square of its size',
    );
  if (!installResponseRemainder())
    log.warn('kafkajs is not the version whose connections let go of their last response: a pause keeps it');
  const ssl = tlsOptions(config.ssl);
  const kafkaConfig: KafkaConfig = {
    clientId: config.clientId + clientIdSuffix,
    brokers: config.brokers,
    ssl,
    connectionTimeout: 5_000,
    retry: { initialRetryTime: 300, retries: 8 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ namespace, level, log: entry }) => {
        const { message, ...extra } = entry;
        const fields = { namespace, broker: extra.broker, error: extra.error };
        if (level <= logLevel.ERROR) log.warn(fields, `kafka: ${message}`);
        else if (level === logLevel.WARN) log.warn(fields, `kafka: ${message}`);
        else log.debug(fields, `kafka: ${message}`);
      },
  };
  if (config.sasl) {
    const password = secretReader(config.sasl.password, 'kafka.sasl.password');
    password(); // a missing secret stops start-up here, before anything connects
    // kafkajs keeps this object and reads `password` at each authentication: a getter re-reads the secret, so a
    // rotated password file is used by the next connection (secretReader re-reads a file when it changes).
    kafkaConfig.sasl = {
      mechanism: config.sasl.mechanism,
      username: config.sasl.username,
      get password() {
        return password();
      },
    } as SASLOptions;
  }
  const kafka = new Kafka(kafkaConfig);
  let tlsChecked = false;
  const guard = <T extends { connect(): Promise<void> }>(client: T): T => {
    const connect = client.connect.bind(client);
    client.connect = async () => {
      if (ssl && !tlsChecked)
        tlsChecked =
          (await checkTls(config.brokers, ssl === true ? {} : (ssl as ConnectionOptions), 5_000)) === 'checked';
      try {
        await connect();
      } catch (err) {
        throw explainConnectError(err, config);
      }
    };
    return client;
  };
  const admin = kafka.admin.bind(kafka);
  const producer = kafka.producer.bind(kafka);
  const consumer = kafka.consumer.bind(kafka);
  kafka.admin = (...args) => guard(admin(...args));
  kafka.producer = (...args) => guard(producer(...args));
  kafka.consumer = (...args) => guard(consumer(...args));
  return kafka;
}

/**
 * The producer of the service's acked writers (dead letters, ledger records). kafkajs does not retry a produce
 * request itself (retries 0): every retry goes through the writer, which never sends again a record discarded
 * meanwhile. So when a member loses a partition, what can still land of its ledger records is the one request on
 * the wire (the fencing window, test/integration/ledger-fencing.test.ts), not kafkajs's own retries of it.
 */
export function writerProducerConfig(): ProducerConfig {
  return { allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner, retry: { retries: 0 } };
}

/**
 * A refused SASL login (or a secret that cannot be read while logging in) as a ConfigError; anything else unchanged.
 */
export function explainConnectError(err: unknown, config: Config['kafka']): unknown {
  for (
    let e = err as { name?: string; message?: string; cause?: unknown } | undefined, depth = 0;
    e && depth < 8;
    e = e.cause as typeof e, depth++
  ) {
    if (e instanceof ConfigError) return e;
    if (e.name === 'KafkaJSSASLAuthenticationError' && config.sasl) {
      return new ConfigError(
        'kafka.sasl',
        `the broker refused the ${config.sasl.mechanism} login of user "${config.sasl.username}" ` +
          `(${e.message}); check kafka.sasl.username, kafka.sasl.password and kafka.sasl.mechanism`,
      );
    }
  }
  return err;
}

/** kafka.ssl → node TLS options; files are read once at start-up (a missing file is a ConfigError naming the key). */
function tlsOptions(ssl: Config['kafka']['ssl']): KafkaConfig['ssl'] {
  if (typeof ssl === 'boolean') return ssl;
  const read = (file: string | undefined, key: string) => {
    if (!file) return undefined;
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`kafka.ssl.${key}`, `cannot read ${file}: ${(err as Error).message}`);
    }
  };
  const ca = read(ssl.caFile, 'caFile');
  const cert = read(ssl.certFile, 'certFile');
  const key = read(ssl.keyFile, 'keyFile');
  return {
    rejectUnauthorized: ssl.rejectUnauthorized,
    ...(ca ? { ca: [ca] } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
  };
}
