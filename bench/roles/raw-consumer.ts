import { Kafka, logLevel } from 'kafkajs';
import { serveRole } from '../ipc.js';
import { cpuSince, usage } from '../measure.js';
import '../../src/kafka/codecs.js';

/**
 * The baseline: a plain kafkajs consumer whose eachBatch does nothing, with the fetch settings the service's
 * consumer uses (src/ingest/consumer.ts: 4 MiB per partition, 1 s max wait, one partition at a time, commits
 * every second). It reads the topic from the beginning until `expected` records arrived. The clock and the CPU
 * count start once the consumer has joined its group, as for the service.
 */
export interface RawInit {
  brokers: string[];
  topic: string;
  groupId: string;
  expected: number;
  /** Start the clock before connecting (the group join counts), as a ledger restore's does. */
  fromConnect?: boolean;
}

export interface RawResult {
  events: number;
  seconds: number;
  cpuSeconds: number;
  peakRssMb: number;
}

serveRole(async (raw) => {
  const init = raw as RawInit;
  const kafka = new Kafka({ clientId: 'bench-raw', brokers: init.brokers, logLevel: logLevel.ERROR });
  const consumer = kafka.consumer({
    groupId: init.groupId,
    maxBytesPerPartition: 4 * 1024 * 1024,
    maxWaitTimeInMs: 1_000,
    sessionTimeout: 30_000,
  });

  async function measure(): Promise<RawResult> {
    let events = 0;
    let done!: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    const early = init.fromConnect ? { cpu: process.cpuUsage(), started: performance.now() } : undefined;
    await consumer.connect();
    await consumer.subscribe({ topics: [init.topic], fromBeginning: true });
    await consumer.run({
      autoCommitInterval: 1_000,
      partitionsConsumedConcurrently: 1,
      eachBatch: async ({ batch }) => {
        events += batch.messages.length;
        if (events >= init.expected) done();
      },
    });
    const { cpu, started } = early ?? { cpu: process.cpuUsage(), started: performance.now() };
    await all;
    const seconds = (performance.now() - started) / 1000;
    const cpuSeconds = cpuSince(cpu);
    return { events, seconds, cpuSeconds, peakRssMb: usage().peakRssMb };
  }

  return {
    commands: { measure },
    close: () => consumer.disconnect(),
  };
});
