import { readFileSync } from 'node:fs';
import { Kafka, logLevel, type KafkaConfig, type SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../domain/errors.js';
import { secretReader } from '../deliver/secret.js';
// Every client built here reads snappy, lz4 and zstd as well as gzip.
import './codecs.js';

/** The one place that builds a kafkajs client: brokers, TLS, SASL (secrets from env or files), logging via pino. */
export function createKafka(config: Config['kafka'], log: Logger, clientIdSuffix = ''): Kafka {
  const kafkaConfig: KafkaConfig = {
    clientId: config.clientId + clientIdSuffix,
    brokers: config.brokers,
    ssl: tlsOptions(config.ssl),
    connectionTimeout: 5_000,
    retry: { initialRetryTime: 300, retries: 8 },
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, level, log: entry }) => {
      const { message, ...extra } = entry;
      const fields = { namespace, broker: extra.broker, error: extra.error };
      if (level <= logLevel.ERROR) log.warn(fields, `kafka: ${message}`);
      else if (level === logLevel.WARN) log.warn(fields, `kafka: ${message}`);
      else log.debug(fields, `kafka: ${message}`);
    },
  };
  if (config.sasl) {
    const password = secretReader(config.sasl.password, 'kafka.sasl.password')();
    kafkaConfig.sasl = { mechanism: config.sasl.mechanism, username: config.sasl.username, password } as SASLOptions;
  }
  return new Kafka(kafkaConfig);
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
  return { rejectUnauthorized: ssl.rejectUnauthorized, ...(ca ? { ca: [ca] } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}
