import { Kafka, logLevel } from 'kafkajs';
import pino from 'pino';
import { ledgerRestorer } from '../../src/ledger/kafka.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { serveRole } from '../ipc.js';
import { cpuSince, usage } from '../measure.js';
import '../../src/kafka/codecs.js';
import { installRecordDecoding } from '../../src/kafka/record-decoding.js';

/**
 * The ledger restore a member runs on assignment (Ledger.assign → src/ledger/kafka.ts ledgerRestorer → readToEnd
 * → decode → index), in a process of its own, for every partition of `source`'s ledger topic. The clock starts
 * at assign() and stops when every partition is ready: the group join of its reader counts, as it does for the
 * raw consumer it is compared with (RawInit.fromConnect). Its kafkajs decodes records as the service's does
 * (src/kafka/client.ts installs the same decoder); the raw consumer keeps kafkajs's own.
 */
export interface RestoreInit {
  brokers: string[];
  source: string;
  ledgerTopic: string;
  partitions: number;
}

export interface RestoreResult {
  entries: number;
  seconds: number;
  cpuSeconds: number;
  peakRssMb: number;
  indexBytes: number;
}

serveRole(async (raw) => {
  const init = raw as RestoreInit;
  if (!installRecordDecoding()) throw new Error('the record decoder could not be installed');
  const kafka = new Kafka({ clientId: 'bench-restore', brokers: init.brokers, logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  await admin.connect();
  const metrics = createMetrics();

  async function measure(): Promise<RestoreResult> {
    const ledger = new Ledger(
      {
        restore: ledgerRestorer(kafka, admin, () => init.ledgerTopic, `bench-restore-${process.pid}`),
        write: () => Promise.resolve(),
      },
      { restoreTimeoutMs: 600_000, rebuild: new Set(), startedAt: Date.now(), openWindowMs: 600_000 },
      metrics,
      pino({ level: 'silent' }),
    );
    const all = Array.from({ length: init.partitions }, (_, p) => p);
    const cpu = process.cpuUsage();
    const started = performance.now();
    ledger.assign({ [init.source]: all });
    await Promise.all(all.map((p) => ledger.whenReady(init.source, p)));
    const seconds = (performance.now() - started) / 1000;
    const cpuSeconds = cpuSince(cpu);
    const entries = (await metrics.ledgerEntries.get()).values[0]?.value ?? 0;
    const indexBytes = (await metrics.ledgerBytes.get()).values[0]?.value ?? 0;
    ledger.close();
    return { entries, seconds, cpuSeconds, peakRssMb: usage().peakRssMb, indexBytes };
  }

  return { commands: { measure }, close: () => admin.disconnect() };
});
