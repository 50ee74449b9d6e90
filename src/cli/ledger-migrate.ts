import { parseArgs } from 'node:util';
import { Partitioners } from 'kafkajs';
import { loadConfig } from '../config/load.js';
import { secretReader } from '../config/secret.js';
import { ConfigError, SyncError } from '../domain/errors.js';
import { createKafka } from '../kafka/client.js';
import { compressionType } from '../kafka/codecs.js';
import { readToEnd } from '../kafka/read-to-end.js';
import { ensureTopic, partitionCount } from '../kafka/topics.js';
import { PersonHasher } from '../ledger/erasure.js';
import { encodeHashCheck, HASH_CHECK_KEY, HASHED_PREFIX } from '../ledger/hashing.js';
import { PartitionMigration } from '../ledger/migrate.js';
import { ledgerTopicFor, splitLedgerKey } from '../ledger/record.js';
import { createLogger } from '../observability/logger.js';

/**
 * `ledger-migrate --config FILE --to TEMPLATE [--keep-old]`: copies each ledger topic (ledger.topic) into a new
 * one (TEMPLATE, e.g. "{topic}.ledger-h") with hashed keys under ledger.hashKey, checks the copy holds no raw
 * email, then deletes the old topic: tombstones written in place would keep raw emails in their keys until the
 * log cleaner drops them. Run it with the service stopped; then set ledger.topic to TEMPLATE and start it.
 */
export async function ledgerMigrateCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      to: { type: 'string' },
      'keep-old': { type: 'boolean', default: false },
    },
  });
  if (!values.config) throw new SyncError('USAGE', 'ledger-migrate needs --config FILE', false);
  if (!values.to)
    throw new SyncError(
      'USAGE',
      'ledger-migrate needs --to TEMPLATE, the new ledger topic (e.g. "{topic}.ledger-h")',
      false,
    );
  const config = loadConfig(values.config);
  if (!config.ledger.hashKey)
    throw new ConfigError(
      'ledger.hashKey',
      'ledger-migrate hashes the keys with ledger.hashKey: set it (a secret reference, like the API key)',
    );
  const to = values.to;
  const hasher = new PersonHasher(secretReader(config.ledger.hashKey, 'ledger.hashKey')());
  const say = (line: string) => process.stdout.write(`${line}\n`);

  const kafka = createKafka(config.kafka, createLogger('silent'), '-ledger-migrate');
  const admin = kafka.admin();
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await admin.connect();
  await producer.connect();
  try {
    for (const source of config.kafka.topics) {
      const from = ledgerTopicFor(source, config.ledger.topic);
      const into = ledgerTopicFor(source, to);
      if (from === into)
        throw new SyncError('USAGE', `--to names the ledger topic itself (${from}): give a new one`, false);
      const partitions = await partitionCount(admin, from);
      if (partitions === undefined) {
        say(`${from}: no such topic, nothing to migrate`);
        continue;
      }
      const existing = await partitionCount(admin, into);
      if (existing !== undefined) {
        const ends = await admin.fetchTopicOffsets(into);
        if (ends.some((e) => Number(e.high) > Number(e.low)))
          throw new SyncError('USAGE', `${into} exists and holds records: delete it or give another --to`, false);
      }
      await ensureTopic(admin, into, partitions, { 'cleanup.policy': 'compact' });

      const byPartition = new Map<number, PartitionMigration>();
      const read = await readToEnd(
        kafka,
        admin,
        from,
        (r) => {
          let m = byPartition.get(r.partition);
          if (!m) byPartition.set(r.partition, (m = new PartitionMigration(hasher)));
          m.add(r.key?.toString('utf8') ?? '', r.value);
        },
        { groupPrefix: `${config.kafka.groupId}.ledger-migrate` },
      );

      let written = 0;
      const dropped = { tombstone: 0, superseded: 0, unreadable: 0, check: 0 };
      const compression = compressionType(config.kafka.compression);
      for (let partition = 0; partition < partitions; partition++) {
        const done = byPartition.get(partition)?.finish();
        const messages = [...(done?.records ?? new Map<string, Buffer>())].map(([key, value]) => ({
          key,
          value,
          partition,
        }));
        messages.push({ key: HASH_CHECK_KEY, value: Buffer.from(encodeHashCheck(hasher)), partition });
        for (let i = 0; i < messages.length; i += 1_000)
          await producer.send({ topic: into, acks: -1, compression, messages: messages.slice(i, i + 1_000) });
        written += messages.length;
        for (const k of Object.keys(dropped) as (keyof typeof dropped)[]) dropped[k] += done?.dropped[k] ?? 0;
      }

      // The copy is checked before the old topic goes: every record there, and no raw email in any key.
      let copied = 0;
      let raw = 0;
      await readToEnd(
        kafka,
        admin,
        into,
        (r) => {
          copied++;
          const person = splitLedgerKey(r.key?.toString('utf8') ?? '')?.email;
          if (person !== undefined && !person.startsWith(HASHED_PREFIX)) raw++;
        },
        { groupPrefix: `${config.kafka.groupId}.ledger-migrate` },
      );
      if (copied < written || raw > 0)
        throw new SyncError(
          'MIGRATION_CHECK',
          `${into}: read back ${copied} of ${written} records, ${raw} with a raw email; ${from} is kept`,
          false,
        );
      say(
        `${from} → ${into}: ${read} records read, ${written} written (${written - partitions} ledger records ` +
          `and markers, ${partitions} check records); left out: ${dropped.tombstone} tombstoned ` +
          `keys, ${dropped.superseded} older records of a key, ${dropped.check} ` +
          `old check records, ${dropped.unreadable} unreadable`,
      );
      if (values['keep-old']) say(`${from} kept (--keep-old): delete it yourself, it holds raw emails in its keys`);
      else {
        await admin.deleteTopics({ topics: [from] });
        say(`${from} deleted`);
      }
    }
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
  say(`Now set "ledger": { "topic": "${to}", "hashKey": … } in the config and start the service.`);
  return 0;
}
