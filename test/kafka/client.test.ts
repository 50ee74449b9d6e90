import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/domain/errors.js';
import { createKafka, explainConnectError } from '../../src/kafka/client.js';

const base = (kafka: Record<string, unknown>) =>
  parseConfig({
    kafka: { brokers: ['b:9092'], topics: ['t'], ...kafka },
    connections: { main: { apiUrl: 'x.api-us1.com', apiKey: { value: 'k' }, privacyAcknowledged: true } },
    exports: [{ name: 'e', segmentId: 's', connection: 'main', listId: '1' }],
  }).kafka;
const log = pino({ level: 'silent' });

test('TLS settings: true, or CA and client files that are read at start-up', () => {
  assert.ok(createKafka(base({ ssl: true }), log));
  const dir = mkdtempSync(join(tmpdir(), 'tls-'));
  writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
  assert.ok(createKafka(base({ ssl: { caFile: join(dir, 'ca.pem') } }), log));
  assert.throws(
    () => createKafka(base({ ssl: { caFile: join(dir, 'missing.pem') } }), log),
    (err: unknown) => err instanceof ConfigError && err.message.startsWith('config kafka.ssl.caFile: cannot read'),
  );
});

test('SASL: the password comes from an environment variable or a file, and a missing one names the key', () => {
  const sasl = { mechanism: 'scram-sha-512', username: 'svc', password: { env: 'AC_TEST_SASL_PASSWORD_UNSET' } };
  assert.throws(
    () => createKafka(base({ sasl }), log),
    (err: unknown) =>
      err instanceof ConfigError && err.message.includes('kafka.sasl.password') && !err.message.includes('secret'),
  );
  process.env.AC_TEST_SASL_PASSWORD = 's3cret';
  assert.ok(createKafka(base({ sasl: { ...sasl, password: { env: 'AC_TEST_SASL_PASSWORD' } } }), log));
  assert.throws(() => base({ sasl: { ...sasl, mechanism: 'gssapi' } }), ConfigError);
});

test('a refused SASL login, however deep kafkajs wraps it, becomes a ConfigError naming kafka.sasl; other errors stay as they are', () => {
  const kafka = base({
    sasl: { mechanism: 'scram-sha-512', username: 'svc', password: { value: 'not-logged-anywhere' } },
  });
  const refused = Object.assign(new Error('SASL SCRAM SHA512 authentication failed: invalid credentials'), {
    name: 'KafkaJSSASLAuthenticationError',
  });
  const wrapped = Object.assign(new Error('retries exhausted'), { name: 'KafkaJSNonRetriableError', cause: refused });
  const explained = explainConnectError(wrapped, kafka);
  assert.ok(explained instanceof ConfigError);
  assert.equal(explained.key, 'kafka.sasl');
  assert.match(
    explained.message,
    /^config kafka\.sasl: the broker refused the scram-sha-512 login of user "svc" \(SASL SCRAM SHA512 authentication failed: invalid credentials\)/,
  );
  assert.ok(!explained.message.includes('not-logged-anywhere'));

  const missingFile = new ConfigError('kafka.sasl.password', 'cannot read /nope');
  assert.equal(explainConnectError(Object.assign(new Error('wrapped'), { cause: missingFile }), kafka), missingFile);
  const unreachable = Object.assign(new Error('Connection error: connect ECONNREFUSED'), {
    name: 'KafkaJSConnectionError',
  });
  assert.equal(explainConnectError(unreachable, kafka), unreachable);
  assert.equal(
    explainConnectError(refused, base({})),
    refused,
    'without kafka.sasl a login error is not ours to explain',
  );
});
