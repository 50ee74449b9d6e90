import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { ConfigError } from '../../src/domain/errors.js';
import { createTopic, kafka, quietLog, startService, startSimulator, testConfig, uniqueTopic, type Simulator } from '../support/harness.js';

/**
 * The ledger topic at start-up: created compacted with the source's partition count when missing; an existing
 * one with another partition count or a delete policy, or a rebuild of an unknown connection, stops start-up
 * with a one-line ConfigError naming the key.
 */
const admin = kafka().admin();
let sim: Simulator;

before(async () => {
  await admin.connect();
  sim = await startSimulator({ timeScale: 5, lists: [{ id: '1', name: 'VIP' }] });
});
after(async () => {
  await sim.close();
  await admin.disconnect();
});

test('a missing ledger topic is created compacted, with the source topic partition count', async () => {
  const topic = uniqueTopic('ledger-topic');
  await createTopic(admin, topic, 3);
  const service = await startService(testConfig(topic, sim, ['vip']), { log: quietLog() });
  await service.stop();
  const meta = await admin.fetchTopicMetadata({ topics: [`${topic}.ledger`] });
  assert.equal(meta.topics[0]?.partitions.length, 3);
  const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: `${topic}.ledger`, configNames: ['cleanup.policy'] }] });
  assert.equal(described.resources[0]?.configEntries[0]?.configValue, 'compact');
});

test('a ledger topic with another partition count, or not compacted, stops start-up naming ledger.topic', async () => {
  const wrongCount = uniqueTopic('ledger-count');
  await createTopic(admin, wrongCount, 3);
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: `${wrongCount}.ledger`, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] });
  await assert.rejects(startService(testConfig(wrongCount, sim, ['vip']), { log: quietLog() }), (err: unknown) => err instanceof ConfigError && /^config ledger\.topic: .* has 1 partitions but .* has 3/.test(err.message));

  const deleting = uniqueTopic('ledger-delete');
  await createTopic(admin, deleting, 2);
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: `${deleting}.ledger`, numPartitions: 2, configEntries: [{ name: 'cleanup.policy', value: 'delete' }] }] });
  await assert.rejects(startService(testConfig(deleting, sim, ['vip']), { log: quietLog() }), (err: unknown) => err instanceof ConfigError && /^config ledger\.topic: .*cleanup\.policy=delete/.test(err.message));
});

test('rebuilding the ledger of a connection that does not exist stops start-up naming rebuildLedger', async () => {
  const topic = uniqueTopic('ledger-rebuild');
  await createTopic(admin, topic, 1);
  await assert.rejects(startService(testConfig(topic, sim, ['vip']), { log: quietLog(), rebuildLedger: ['nope'] }), (err: unknown) => err instanceof ConfigError && /^config rebuildLedger: no connection named "nope"/.test(err.message));
});
