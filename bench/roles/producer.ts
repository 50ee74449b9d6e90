// First: kafkajs's producers must load with our partition grouping, as the CLI's (src/cli/index.ts).
import '../../src/kafka/partition-grouping.js';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { Kafka, Partitioners, logLevel, type Message } from 'kafkajs';
import { serveRole } from '../ipc.js';
import { avroValue, workloadEvents, type Workload, type WorkloadStats } from '../workload.js';
import '../../src/kafka/codecs.js';

/**
 * Writes one slice of a workload to a topic. At full speed (batches of 2,000, a few sends in flight) to fill a
 * topic before a measurement, or at `ratePerSecond`, one record per send, for the latency trickle and the
 * growing topic of the outage run. Its time is never part of a measured number.
 */
export interface ProducerInit {
  brokers: string[];
  topic: string;
  workload: Workload;
  encoding: 'json' | 'avro';
  /** avro: where the schema is registered, and its id. */
  registryUrl?: string;
  schemaId?: number;
  /** Unset: as fast as the broker takes them. */
  ratePerSecond?: number;
}

export interface ProducerResult {
  produced: number;
  seconds: number;
  stats: WorkloadStats;
}

const BATCH = 2_000;
const IN_FLIGHT = 4;

serveRole(async (raw) => {
  const init = raw as ProducerInit;
  const kafka = new Kafka({ clientId: 'bench-producer', brokers: init.brokers, logLevel: logLevel.ERROR });
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  const registry = init.encoding === 'avro' ? new SchemaRegistry({ host: init.registryUrl! }) : undefined;
  const encode = async (value: Parameters<typeof avroValue>[0]): Promise<Buffer | string> =>
    registry ? registry.encode(init.schemaId!, avroValue(value)) : JSON.stringify(value);

  async function run(): Promise<ProducerResult> {
    const stats: WorkloadStats = { events: 0, repeats: 0, removes: 0 };
    const started = performance.now();
    const inFlight = new Set<Promise<unknown>>();
    const send = async (messages: Message[]) => {
      const p = producer.send({ topic: init.topic, messages });
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p)).catch(() => undefined);
      if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
    };
    let produced = 0;
    if (init.ratePerSecond) {
      const gap = 1_000 / init.ratePerSecond;
      for (const e of workloadEvents(init.workload, stats)) {
        const due = started + produced * gap;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const p = producer.send({ topic: init.topic, messages: [{ key: e.key, value: await encode(e.value) }] });
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p)).catch(() => undefined);
        produced++;
      }
    } else {
      let batch: Message[] = [];
      for (const e of workloadEvents(init.workload, stats)) {
        batch.push({ key: e.key, value: await encode(e.value) });
        if (batch.length === BATCH) {
          await send(batch);
          produced += batch.length;
          batch = [];
        }
      }
      if (batch.length) await send(batch);
      produced += batch.length;
    }
    await Promise.all(inFlight);
    return { produced, seconds: (performance.now() - started) / 1000, stats };
  }

  return {
    commands: { run },
    close: () => producer.disconnect(),
  };
});
