import { parseArgs } from 'node:util';
import kafkajs from 'kafkajs';
import pino from 'pino';
import type { Config } from '../src/config/schema.js';
import { DeadLetterProducer } from '../src/dlq/producer.js';
import { compressionType } from '../src/kafka/codecs.js';
import { startLocalBroker } from '../src/dev/local-broker.js';
import { readToEnd } from '../src/kafka/read-to-end.js';
import { encodeLedgerValue, ledgerKey } from '../src/ledger/record.js';
import { LedgerWriter } from '../src/ledger/writer.js';
import { createMetrics } from '../src/observability/metrics.js';

/**
 * What each `kafka.compression` codec costs for the records the service writes, measured on this machine for the
 * README (not asserted anywhere). For each codec: the ledger writes of confirmed changes (LedgerWriter, as the
 * service batches them) and dead letters (DeadLetterProducer) go to fresh topics on the real broker; then the
 * ledger topic is read back to its end, as a member restores it on assignment. Reported: bytes out of the codec
 * (the records' own bytes for none), and the time and process CPU (every thread: the native codecs run on
 * libuv's pool) of the writes and of the read-back. The codec's own cost is the difference from none.
 *
 * `node dist/bench/codecs.js [--ledger 200000] [--dead-letters 20000] [--partitions 6]` (KAFKA_BROKERS, else the
 * local broker script). It deletes its topics afterwards.
 */
const { CompressionCodecs, CompressionTypes, Kafka, logLevel } = kafkajs;
const { values } = parseArgs({
  options: {
    ledger: { type: 'string', default: '200000' },
    'dead-letters': { type: 'string', default: '20000' },
    partitions: { type: 'string', default: '6' },
  },
});
const ledgerRecords = Number(values.ledger);
const deadLetters = Number(values['dead-letters']);
const partitions = Number(values.partitions);
const CODECS: Config['kafka']['compression'][] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
const say = (line: string) => process.stdout.write(`${line}\n`);

/** Bytes in and out of the codecs' compress calls. */
const counted = { in: 0, out: 0 };
type Compressed = keyof typeof CompressionCodecs;
for (const type of [
  CompressionTypes.GZIP,
  CompressionTypes.Snappy,
  CompressionTypes.LZ4,
  CompressionTypes.ZSTD,
] as Compressed[]) {
  const real = CompressionCodecs[type];
  CompressionCodecs[type] = () => {
    const codec = real();
    return {
      compress: async (encoder: { buffer: Buffer }) => {
        const out: Buffer = await codec.compress(encoder);
        counted.in += encoder.buffer.length;
        counted.out += out.length;
        return out;
      },
      decompress: (buffer: Buffer) => codec.decompress(buffer),
    };
  };
}

const brokers = process.env.KAFKA_BROKERS ?? (await startLocalBroker()).brokers;
const kafka = new Kafka({ clientId: 'bench-codecs', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const producer = kafka.producer();
await producer.connect();
const log = pino({ level: 'silent' });
const email = (i: number) => `customer.${i}@example.com`;
const run = `bench-codecs-${process.pid}-${Date.now()}`;
const topics: string[] = [];

/**
 * Pushes `count` records through `push`, in rounds of `round` (one confirmation's worth);
 * resolves when all are acknowledged.
 */
async function write(count: number, round: number, push: (i: number, done: () => void) => void): Promise<number> {
  const t = performance.now();
  for (let i = 0; i < count; i += round) {
    const acked: Promise<void>[] = [];
    for (let j = i; j < Math.min(count, i + round); j++) acked.push(new Promise((r) => push(j, r)));
    await Promise.all(acked);
  }
  return (performance.now() - t) / 1000;
}

say(
  `${ledgerRecords.toLocaleString('en')} ledger records and ${deadLetters.toLocaleString('en')} ` +
    `dead letters per codec, ${partitions} partitions, Node ${process.version}`,
);
const rows: {
  codec: string;
  ledger: { in: number; out: number };
  dlq: { in: number; out: number };
  write: number;
  read: number;
  writeCpu: number;
  readCpu: number;
}[] = [];
const cpuSeconds = (since: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
};
try {
  for (const codec of CODECS) {
    const ledgerTopic = `${run}-${codec}.ledger`;
    const dlqTopic = `${run}-${codec}.dlq`;
    topics.push(ledgerTopic, dlqTopic);
    await admin.createTopics({
      waitForLeaders: true,
      topics: [ledgerTopic, dlqTopic].map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })),
    });
    const type = compressionType(codec);

    Object.assign(counted, { in: 0, out: 0 });
    const writeCpu = process.cpuUsage();
    const writer = new LedgerWriter(producer, createMetrics(), log, { compression: type });
    const writeSeconds = await write(ledgerRecords, 2_000, (i, done) => {
      const value = encodeLedgerValue({
        op: i % 3 ? 'add' : 'remove',
        occurredAt: 1_780_000_000_000 + i,
        byService: i % 3 === 0,
        sentAt: 1_780_000_100_000 + i,
        confirmedAt: 1_780_000_105_000 + i,
      });
      writer.push(
        { topic: ledgerTopic, partition: i % partitions, key: ledgerKey('main', String(1 + (i % 5)), email(i)), value },
        done,
      );
    });
    const ledger = { in: counted.in, out: counted.out };

    Object.assign(counted, { in: 0, out: 0 });
    // The dead-letter template "{topic}.dlq" maps the source topic `${run}-${codec}` to dlqTopic.
    const dlq = new DeadLetterProducer(producer, '{topic}.dlq', createMetrics(), log, { compression: type });
    const dlqSeconds = await write(deadLetters, 500, (i, done) => {
      const value = Buffer.from(
        JSON.stringify({
          eventId: `e-${i}`,
          occurredAt: new Date(1_780_000_000_000 + i).toISOString(),
          segmentId: 'vip',
          op: 'add',
          profile: { id: `p-${i}`, email: email(i), firstName: `First${i}`, lastName: `Last${i}` },
        }),
      );
      const message = {
        topic: `${run}-${codec}`,
        partition: i % partitions,
        offset: i,
        key: Buffer.from(`p-${i}`),
        value,
        headers: {},
        timestamp: 1_780_000_000_000 + i,
      };
      dlq.push(
        {
          message,
          exportName: 'vip',
          stage: 'deliver',
          code: 'INVALID_EMAIL',
          reason: 'ActiveCampaign refused the email address',
          attempts: 1,
        },
        done,
      );
    });
    await dlq.close();
    const letters = { in: counted.in, out: counted.out };
    const writeCpuSeconds = cpuSeconds(writeCpu);

    const readCpu = process.cpuUsage();
    const t = performance.now();
    let read = 0;
    await readToEnd(kafka, admin, ledgerTopic, () => void read++, { groupPrefix: run });
    const readSeconds = (performance.now() - t) / 1000;
    const readCpuSeconds = cpuSeconds(readCpu);
    if (read !== ledgerRecords) throw new Error(`${codec}: read back ${read} of ${ledgerRecords} ledger records`);
    rows.push({
      codec,
      ledger,
      dlq: letters,
      write: writeSeconds + dlqSeconds,
      read: readSeconds,
      writeCpu: writeCpuSeconds,
      readCpu: readCpuSeconds,
    });
  }
} finally {
  await producer.disconnect();
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
}

// none calls no codec: its bytes are those the other codecs were given (the same records, batched the same way).
const base = rows.find((r) => r.codec !== 'none')!;
const cell = (out: number, of: number) => `${(out / 1e6).toFixed(2)} MB (${(out / of).toFixed(3)})`;
say(
  '| Codec | Ledger bytes (÷ none) | Dead-letter bytes (÷ none) ' +
    '| Writes: s / CPU s | Ledger read-back: s / CPU s |',
);
say('|---|--:|--:|--:|--:|');
for (const r of rows) {
  const [ledgerOut, dlqOut] = r.codec === 'none' ? [base.ledger.in, base.dlq.in] : [r.ledger.out, r.dlq.out];
  say(
    `| ${r.codec} | ${cell(ledgerOut, base.ledger.in)} | ${cell(dlqOut, base.dlq.in)} ` +
      `| ${r.write.toFixed(1)} / ${r.writeCpu.toFixed(2)} | ${r.read.toFixed(1)} / ${r.readCpu.toFixed(2)} |`,
  );
}
