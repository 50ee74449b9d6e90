import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { ConfigError } from '../../src/domain/errors.js';
import { quietLog, startService } from '../support/harness.js';
import { world } from '../support/world.js';

/**
 * The ledger topic at start-up: created compacted with the source's partition count when missing; an existing
 * one with another partition count or a delete policy, or a rebuild of an unknown connection, stops start-up
 * with a one-line ConfigError naming the key.
 */
const w = world({ segments: ['vip'], simulator: { timeScale: 5, lists: [{ id: '1', name: 'VIP' }] } });

test('a missing ledger topic is created compacted, with the source topic partition count', async () => {
  const topic = await w.topic('ledger-topic', 3);
  const service = await w.service(topic);
  await service.stop();
  const meta = await w.admin.fetchTopicMetadata({ topics: [`${topic}.ledger`] });
  assert.equal(meta.topics[0]?.partitions.length, 3);
  const described = await w.admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: `${topic}.ledger`, configNames: ['cleanup.policy'] }],
  });
  assert.equal(described.resources[0]?.configEntries[0]?.configValue, 'compact');
});

test('a ledger topic with another partition count, or not compacted, stops start-up naming ledger.topic', async () => {
  const wrongCount = await w.topic('ledger-count', 3);
  await w.admin.createTopics({
    waitForLeaders: true,
    topics: [
      {
        topic: `${wrongCount}.ledger`,
        numPartitions: 1,
        configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
      },
    ],
  });
  await assert.rejects(
    startService(w.config(wrongCount), { log: quietLog() }),
    (err: unknown) =>
      err instanceof ConfigError && /^config ledger\.topic: .* has 1 partitions but .* has 3/.test(err.message),
  );

  const deleting = await w.topic('ledger-delete', 2);
  await w.admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: `${deleting}.ledger`, numPartitions: 2, configEntries: [{ name: 'cleanup.policy', value: 'delete' }] },
    ],
  });
  await assert.rejects(
    startService(w.config(deleting), { log: quietLog() }),
    (err: unknown) => err instanceof ConfigError && /^config ledger\.topic: .*cleanup\.policy=delete/.test(err.message),
  );
});

test('rebuilding the ledger of a connection that does not exist stops start-up naming rebuildLedger', async () => {
  const topic = await w.topic('ledger-rebuild');
  await assert.rejects(
    startService(w.config(topic), { log: quietLog(), rebuildLedger: ['nope'] }),
    (err: unknown) =>
      err instanceof ConfigError && /^config rebuildLedger: no connection named "nope"/.test(err.message),
  );
});
