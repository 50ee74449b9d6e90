import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import pino from 'pino';
import { readToEnd } from '../src/kafka/read-to-end.js';
import { startLocalBroker } from '../src/dev/local-broker.js';
import { LedgerIndex, LedgerState } from '../src/ledger/hash-index.js';
import { Ledger } from '../src/ledger/ledger.js';
import { encodeLedgerValue, ledgerKey } from '../src/ledger/record.js';
import { createMetrics } from '../src/observability/metrics.js';
import '../src/kafka/codecs.js';

/**
 * The membership ledger's two numbers for the README, measured on this machine (not asserted anywhere):
 * 1. bytes per entry of the in-memory index, for 1M entries (the table's arrays, and the growth of the
 *    process's array buffers as a cross-check);
 * 2. the restore time of a ledger topic holding 1M records: the path a member takes on assignment (Ledger.assign
 *    → read the ledger partitions to their end → decode → index), from the first record to the last.
 *
 * `node --expose-gc dist/bench/ledger.js [--entries 1000000] [--partitions 6]` (KAFKA_BROKERS, else the local broker
 * script; --expose-gc makes the memory figures exact).
 * It creates a topic of its own and deletes it afterwards.
 */
const { values } = parseArgs({
  options: { entries: { type: 'string', default: '1000000' }, partitions: { type: 'string', default: '6' } },
});
const entries = Number(values.entries);
const partitions = Number(values.partitions);
const say = (line: string) => process.stdout.write(`${line}\n`);

const email = (i: number) => `customer.${i}@example.com`;
const keyOf = (i: number) => ledgerKey('main', String(1 + (i % 5)), email(i));

async function memory(): Promise<void> {
  global.gc?.();
  const before = process.memoryUsage().arrayBuffers;
  const index = new LedgerIndex();
  const started = performance.now();
  for (let i = 0; i < entries; i++)
    index.set(keyOf(i), { state: LedgerState.Added, occurredAt: 1_780_000_000_000 + i, sentAt: 1_780_000_000_000 });
  const insertMs = performance.now() - started;
  global.gc?.();
  await new Promise((r) => setTimeout(r, 1_000)); // array buffers are released after a collection, not during it
  global.gc?.();
  const grown = process.memoryUsage().arrayBuffers - before;
  const t = performance.now();
  let found = 0;
  for (let i = 0; i < entries; i++) if (index.get(keyOf(i))) found++;
  const lookupMs = performance.now() - t;
  say(
    `index: ${entries.toLocaleString('en')} entries, ${(index.bytes / 1e6).toFixed(1)} ` +
      `MB of table = ${(index.bytes / index.size).toFixed(1)} bytes per entry ` +
      `(array buffers grew ${(grown / index.size).toFixed(1)} bytes per entry)`,
  );
  say(
    `index: insert ${((insertMs * 1e3) / entries).toFixed(2)} µs, ` +
      `lookup ${((lookupMs * 1e3) / entries).toFixed(2)} µs per entry (${found} found)`,
  );
}

async function restore(): Promise<void> {
  let brokers = process.env.KAFKA_BROKERS;
  if (!brokers) brokers = (await startLocalBroker()).brokers;
  const kafka = new Kafka({ clientId: 'bench-ledger', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const source = `bench-ledger-${process.pid}-${Date.now()}`;
  const topic = `${source}.ledger`;
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      {
        topic,
        numPartitions: partitions,
        replicationFactor: 1,
        configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
      },
    ],
  });
  try {
    const producer = kafka.producer();
    await producer.connect();
    let t = performance.now();
    const chunk = 20_000;
    for (let i = 0; i < entries; i += chunk) {
      const messages = [];
      for (let j = i; j < Math.min(entries, i + chunk); j++) {
        const value = encodeLedgerValue({
          op: j % 3 ? 'add' : 'remove',
          occurredAt: 1_780_000_000_000 + j,
          byService: j % 3 === 0,
          sentAt: 1_780_000_100_000 + j,
          confirmedAt: 1_780_000_105_000 + j,
        });
        messages.push({ key: keyOf(j), value, partition: j % partitions });
      }
      await producer.send({ topic, acks: 1, messages });
    }
    await producer.disconnect();
    say(
      `produced ${entries.toLocaleString('en')} ledger records to ${partitions} ` +
        `partitions in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );

    const metrics = createMetrics();
    const ledger = new Ledger(
      {
        restore: (_, parts, onRecord, signal) =>
          readToEnd(
            kafka,
            admin,
            topic,
            (r) => onRecord(r.partition, r.key ? r.key.toString('utf8') : '', r.value, r.timestamp),
            { groupPrefix: 'bench-ledger', partitions: parts, signal },
          ).then(() => undefined),
        write: () => Promise.resolve(),
      },
      { restoreTimeoutMs: 600_000, rebuild: new Set(), startedAt: Date.now(), openWindowMs: 600_000 },
      metrics,
      pino({ level: 'silent' }),
    );
    global.gc?.();
    const heapBefore = process.memoryUsage();
    t = performance.now();
    const all = Array.from({ length: partitions }, (_, p) => p);
    ledger.assign({ [source]: all });
    await Promise.all(all.map((p) => ledger.whenReady(source, p)));
    const seconds = (performance.now() - t) / 1000;
    const held = (await metrics.ledgerEntries.get()).values[0]?.value ?? 0;
    const bytes = (await metrics.ledgerBytes.get()).values[0]?.value ?? 0;
    await new Promise((r) => setTimeout(r, 1_000));
    global.gc?.();
    global.gc?.();
    const heapAfter = process.memoryUsage();
    say(
      `restore: ${held.toLocaleString('en')} entries from ${partitions} partitions ` +
        `in ${seconds.toFixed(1)} s (${Math.round(held / seconds).toLocaleString('en')} records/s), ` +
        `index ${(bytes / held).toFixed(1)} bytes per entry`,
    );
    say(
      'restore: process memory after the restore minus before (collected): ' +
        `rss ${((heapAfter.rss - heapBefore.rss) / 1e6).toFixed(0)} MB, ` +
        `array buffers ${((heapAfter.arrayBuffers - heapBefore.arrayBuffers) / 1e6).toFixed(0)} MB`,
    );
    ledger.close();
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
}

await memory();
await restore();
process.exit(0);
