import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { encodeLedgerValue, ledgerKey } from '../../src/ledger/record.js';
import type { Bench } from '../harness.js';
import { startRole } from '../ipc.js';
import { round } from '../measure.js';
import type { RestoreResultSection } from '../results.js';
import type { RawResult } from '../roles/raw-consumer.js';
import type { RestoreInit, RestoreResult } from '../roles/ledger-restore.js';

/**
 * Step 5, the ledger restore: a compacted ledger topic of `records` records (distinct keys, zstd, as the service
 * writes them), read to its end by a raw kafkajs consumer (no-op eachBatch) and then by the ledger restore, each
 * in a fresh process, each timed from before its consumer joins until the last record is read (indexed). The
 * two alternate for RESTORE_ROUNDS rounds; each side's fastest round is reported (its CPU with it), and the
 * highest peak RSS of each.
 */
/** Rounds of the two reads (one in smoke runs). */
const RESTORE_ROUNDS = 3;

const fastest = <T extends { seconds: number }>(results: T[]): T =>
  results.reduce((best, r) => (r.seconds < best.seconds ? r : best));

export async function ledgerRestore(b: Bench, records: number): Promise<RestoreResultSection> {
  const source = await b.createTopic('restore');
  const ledgerTopic = `${source}.ledger`; // deleted with its source by cleanUp()
  const partitions = b.options.partitions;
  try {
    await b.admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic: ledgerTopic,
          numPartitions: partitions,
          replicationFactor: 1,
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
        },
      ],
    });
    const producer = new Kafka({
      clientId: 'bench-restore-fill',
      brokers: b.brokers,
      logLevel: logLevel.ERROR,
    }).producer();
    await producer.connect();
    const t = performance.now();
    try {
      const chunk = 10_000;
      for (let i = 0; i < records; i += chunk) {
        const messages = [];
        for (let j = i; j < Math.min(records, i + chunk); j++) {
          const value = encodeLedgerValue({
            op: j % 3 ? 'add' : 'remove',
            occurredAt: 1_780_000_000_000 + j,
            offset: j,
            byService: j % 3 === 0,
            sentAt: 1_780_000_100_000 + j,
            confirmedAt: 1_780_000_105_000 + j,
          });
          messages.push({
            key: ledgerKey('main', String(1 + (j % 5)), `customer.${j}@example.com`),
            value,
            partition: j % partitions,
          });
        }
        await producer.send({ topic: ledgerTopic, acks: 1, compression: CompressionTypes.ZSTD, messages });
      }
    } finally {
      await producer.disconnect();
    }
    b.say(
      `  produced ${records.toLocaleString('en')} ledger records ` +
        `in ${((performance.now() - t) / 1000).toFixed(1)} s (not measured)`,
    );

    // Rounds alternate the two readers, each in a fresh process, and each side's fastest round counts: on a shared
    // 2-core machine one read of a few seconds varies by ±20% from one run to the next, most of it on the broker.
    const rounds = b.options.smoke ? 1 : RESTORE_ROUNDS;
    const raws: RawResult[] = [];
    const restores: RestoreResult[] = [];
    for (let round = 0; round < rounds; round++) {
      const rawRole = await b.rawConsumer(ledgerTopic, records, true, round);
      const raw = await rawRole.call<RawResult>('measure').finally(() => rawRole.close());
      const role = await startRole<unknown>('ledger-restore', {
        brokers: b.brokers,
        source,
        ledgerTopic,
        partitions,
      } satisfies RestoreInit);
      const restored = await role.call<RestoreResult>('measure').finally(() => role.close());
      b.say(
        `  round ${round + 1} of ${rounds}: raw kafkajs ${Math.round(raw.events / raw.seconds).toLocaleString('en')} ` +
          `records/s, ledger restore ${Math.round(restored.entries / restored.seconds).toLocaleString('en')} records/s`,
      );
      raws.push(raw);
      restores.push(restored);
    }
    const raw = fastest(raws);
    const restored = fastest(restores);
    return {
      records,
      partitions,
      rounds,
      raw: {
        seconds: round(raw.seconds, 2),
        recordsPerSecond: Math.round(raw.events / raw.seconds),
        cpuSeconds: round(raw.cpuSeconds, 2),
        peakRssMb: Math.round(Math.max(...raws.map((r) => r.peakRssMb))),
      },
      restore: {
        seconds: round(restored.seconds, 2),
        recordsPerSecond: Math.round(restored.entries / restored.seconds),
        cpuSeconds: round(restored.cpuSeconds, 2),
        peakRssMb: Math.round(Math.max(...restores.map((r) => r.peakRssMb))),
        entries: restored.entries,
        indexBytesPerEntry: round(restored.indexBytes / Math.max(1, restored.entries), 1),
      },
      speedRatio: round(raw.seconds / restored.seconds, 3),
    };
  } finally {
    await b.cleanUp();
  }
}
