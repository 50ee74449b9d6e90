import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { secretReader } from '../../src/config/secret.js';
import { ConfigError } from '../../src/domain/errors.js';
import { MAX_SHARES } from '../../src/offsets/tracker.js';

const dir = mkdtempSync(join(tmpdir(), 'ac-list-sync-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// biome-ignore lint/suspicious/noExplicitAny: the tests poke arbitrary paths of a raw config
function minimal(): Record<string, any> {
  return {
    kafka: { brokers: ['kafka-1:9092'], topics: ['segments'] },
    connections: { main: { apiUrl: 'acme.api-us1.com', apiKey: { env: 'AC_API_KEY' }, privacyAcknowledged: true } },
    exports: [{ name: 'vip', segmentId: 'seg-vip', connection: 'main', listId: '3' }],
  };
}

/** Asserts a ConfigError whose single-line message starts with `config <key>:` and matches `pattern`. */
function refuses(run: () => unknown, key: string, pattern?: RegExp): ConfigError {
  let caught: unknown;
  try {
    run();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  assert.equal(caught.code, 'CONFIG_INVALID');
  assert.equal(caught.retriable, false);
  assert.equal(caught.key, key);
  assert.ok(caught.message.startsWith(`config ${key}: `), caught.message);
  assert.doesNotMatch(caught.message, /\n/, 'one line');
  if (pattern) assert.match(caught.message, pattern);
  return caught;
}

describe('parseConfig: a valid config', () => {
  it('parses a minimal config and fills the defaults', () => {
    const config = parseConfig(minimal());
    assert.equal(config.kafka.groupId, 'ac-list-sync');
    assert.equal(config.kafka.fromBeginning, true);
    assert.equal(config.buffer.maxContacts, 250);
    assert.equal(config.buffer.maxBytes, 399_999);
    assert.equal(config.unmappedSegments, 'skip');
    assert.equal(config.deadLetter.topic, '{topic}.dlq');
    const conn = config.connections.main!;
    assert.equal(conn.requestsPerSecond, 4.5);
    assert.equal(conn.importsPerMinute, 98);
    assert.equal(conn.singleImportsPerMinute, 19);
    const exp = config.exports[0]!;
    assert.equal(exp.enabled, true);
    assert.deepEqual(exp.tags, []);
    assert.deepEqual(exp.fields, {});
    assert.equal(exp.excludeAutomations, false);
  });

  it('accepts IPv6 and dotted broker addresses', () => {
    const value = minimal();
    value.kafka.brokers = ['[::1]:9092', 'kafka-1.internal.example:19092', '10.0.0.7:9092'];
    assert.deepEqual(parseConfig(value).kafka.brokers, value.kafka.brokers);
  });
});

describe('parseConfig: errors name the key', () => {
  it('an unknown key at the root', () => {
    const value = { ...minimal(), bufer: { maxContacts: 10 } };
    refuses(() => parseConfig(value), '(root)', /bufer/);
  });

  it('an unknown key nested in a section', () => {
    const value = minimal();
    value.kafka.brokerz = ['x:1'];
    refuses(() => parseConfig(value), 'kafka', /brokerz/);
  });

  it('an unknown key in a connection', () => {
    const value = minimal();
    value.connections.main.apiToken = 'x';
    refuses(() => parseConfig(value), 'connections.main', /apiToken/);
  });

  it('a value of the wrong type', () => {
    const value = minimal();
    value.buffer = { lingerMs: '1000' };
    refuses(() => parseConfig(value), 'buffer.lingerMs', /number/);
  });

  it('a value out of bounds', () => {
    const value = minimal();
    value.buffer = { maxContacts: 251 };
    refuses(() => parseConfig(value), 'buffer.maxContacts');
  });

  it('a broker address that is not host:port', () => {
    for (const bad of ['kafka-1', 'kafka 1:9092', 'kafka-1:port', 'http://kafka-1:9092']) {
      const value = minimal();
      value.kafka.brokers = ['ok:9092', bad];
      refuses(() => parseConfig(value), 'kafka.brokers.1', /host:port/);
    }
  });

  it('a missing kafka section', () => {
    const value = minimal();
    delete value.kafka;
    refuses(() => parseConfig(value), 'kafka');
  });

  it('privacyAcknowledged missing or false explains why it is needed', () => {
    for (const flag of [undefined, false, 'yes']) {
      const value = minimal();
      if (flag === undefined) delete value.connections.main.privacyAcknowledged;
      else value.connections.main.privacyAcknowledged = flag;
      refuses(
        () => parseConfig(value),
        'connections.main.privacyAcknowledged',
        /must be true: contacts .*leave .*set privacyAcknowledged: true/,
      );
    }
  });

  it('a list id that is not numeric', () => {
    const value = minimal();
    value.exports[0].listId = 'vip-list';
    refuses(() => parseConfig(value), 'exports.0.listId', /numeric/);
  });

  it('an export naming a connection that does not exist', () => {
    const value = minimal();
    value.exports.push({ name: 'churned', segmentId: 'seg-churn', connection: 'secondary', listId: '4' });
    refuses(() => parseConfig(value), 'exports.1.connection', /no connection named "secondary"/);
  });

  it('two exports with the same name', () => {
    const value = minimal();
    value.exports.push({ name: 'vip', segmentId: 'seg-other', connection: 'main', listId: '4' });
    refuses(() => parseConfig(value), 'exports.1.name', /"vip" is used by another export/);
  });

  // An event keeps one share per export of its segment (an erasure one per connection) as a bit of its offset's
  // mask in the tracker, at most MAX_SHARES: more made begin() throw for every such event, inside eachBatch, so
  // kafkajs fetched the same batch again for ever and the partition never committed past it.
  it('more enabled exports on one segment than an event can keep shares for', () => {
    const value = minimal();
    value.exports = Array.from({ length: MAX_SHARES + 1 }, (_, i) => ({
      name: `e${i}`,
      segmentId: 'seg-vip',
      connection: 'main',
      listId: String(i + 1),
    }));
    refuses(() => parseConfig(value), `exports.${MAX_SHARES}.segmentId`, /at most 30 enabled exports/);
    value.exports[MAX_SHARES].enabled = false;
    assert.equal(parseConfig(value).exports.length, MAX_SHARES + 1, 'a disabled one takes no share');
  });

  it('more connections than an erasure can keep shares for', () => {
    const value = minimal();
    for (let i = 1; i <= MAX_SHARES; i++) value.connections[`c${i}`] = { ...value.connections.main };
    refuses(() => parseConfig(value), 'connections', /at most 30 connections/);
  });

  it('no exports at all', () => {
    const value = minimal();
    value.exports = [];
    refuses(() => parseConfig(value), 'exports');
  });

  it('a secret given two ways at once', () => {
    const value = minimal();
    value.connections.main.apiKey = { env: 'A', value: 'b' };
    refuses(() => parseConfig(value), 'connections.main.apiKey');
  });

  it('not an object at all', () => {
    refuses(() => parseConfig([]), '(root)');
    refuses(() => parseConfig(null), '(root)');
  });
});

describe('loadConfig: the file', () => {
  it('reads a JSON file', () => {
    const file = join(dir, 'ok.json');
    writeFileSync(file, JSON.stringify(minimal()));
    assert.equal(loadConfig(file).exports[0]?.name, 'vip');
  });

  it('an unreadable file', () => {
    refuses(() => loadConfig(join(dir, 'missing.json')), '(file)', /cannot read .*missing\.json/);
  });

  it('a file that is not JSON', () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{ kafka: brokers }\n');
    refuses(() => loadConfig(file), '(file)', /broken\.json is not valid JSON/);
  });

  it('a syntax error next to an inline API key names its line and column, never the text around it', () => {
    const key = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';
    const file = join(dir, 'inline-key.json');
    // single quotes: V8's message would quote `'9f86d0818` (and all of a key of 9 characters or fewer)
    writeFileSync(file, `{\n  "connections": { "main": { "apiKey": { "value": '${key}' } } }\n}\n`);
    const err = refuses(() => loadConfig(file), '(file)', /Unexpected token ''' at line 2 column 51/);
    assert.ok(!err.message.includes(key.slice(0, 4)), err.message);
  });

  it('a line separator (U+2028) as the unexpected token does not let the text around it through', () => {
    const key = 'k3yk3yk3yk3yk3yk3y';
    const file = join(dir, 'inline-key-2028.json');
    writeFileSync(file, `{"connections":{"main":{"apiKey":{"value":\u2028"${key}"}}}}`);
    const err = refuses(() => loadConfig(file), '(file)', /at line 1 column/);
    assert.ok(!err.message.includes(key.slice(0, 4)), err.message);
  });

  it('a valid JSON file with a bad setting names the setting', () => {
    const file = join(dir, 'bad.json');
    const value = minimal();
    value.kafka.brokers = ['nohost'];
    writeFileSync(file, JSON.stringify(value));
    refuses(() => loadConfig(file), 'kafka.brokers.0');
  });
});

describe('secretReader', () => {
  const key = 'connections.main.apiKey';

  it('an inline value', () => {
    assert.equal(secretReader({ value: 'inline-secret' }, key)(), 'inline-secret');
  });

  it('an environment variable, read on each call; unset → ConfigError naming the key and the variable', () => {
    const name = `AC_LIST_SYNC_TEST_SECRET_${process.pid}`;
    const read = secretReader({ env: name }, key);
    delete process.env[name];
    const err = refuses(read, key, new RegExp(name));
    assert.doesNotMatch(err.message, /secret-one/);
    process.env[name] = 'secret-one';
    assert.equal(read(), 'secret-one');
    process.env[name] = 'secret-two';
    assert.equal(read(), 'secret-two');
    process.env[name] = '';
    refuses(read, key);
    delete process.env[name];
  });

  it('a file: trimmed, re-read after it changes (rotation), errors when missing or empty', () => {
    const file = join(dir, 'api-key');
    const read = secretReader({ file }, key);
    refuses(read, key, /cannot read/);

    writeFileSync(file, 'key-one\n');
    utimesSync(file, new Date(1_000_000), new Date(1_000_000));
    assert.equal(read(), 'key-one');

    // Set explicit modification times: two writes within one file-system clock tick could share one.
    writeFileSync(file, 'key-two\n');
    utimesSync(file, new Date(2_000_000), new Date(2_000_000));
    assert.equal(read(), 'key-two');

    writeFileSync(file, '\n');
    utimesSync(file, new Date(3_000_000), new Date(3_000_000));
    refuses(read, key, /is empty/);

    rmSync(file);
    refuses(read, key, /cannot read/);
  });

  it('a file whose modification time did not change is not read again', () => {
    const file = join(dir, 'cached-key');
    writeFileSync(file, 'key-one');
    utimesSync(file, new Date(5_000_000), new Date(5_000_000));
    const read = secretReader({ file }, key);
    assert.equal(read(), 'key-one');
    writeFileSync(file, 'key-two');
    utimesSync(file, new Date(5_000_000), new Date(5_000_000));
    assert.equal(read(), 'key-one');
  });
});
