import { readFileSync } from 'node:fs';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { SimulatorCounters } from '../../packages/ac-simulator/src/index.js';
import { workloadSlices, type Bench } from '../harness.js';
import { round, type Usage } from '../measure.js';
import type { DeadLetterCounts } from '../outcome.js';
import type { PipelineResult } from '../results.js';
import type { RawResult } from '../roles/raw-consumer.js';
import type { SettledResult } from '../roles/service.js';

/** The service's own budget and the simulator's import delays run this many times faster: neither limits step 1. */
export const PIPELINE_TIME_SCALE = 1_000;
/**
 * The profile lookups (delivery.profileLookupsPerSecond, default 1) at their default's real rate: a lookup is a
 * cost per second, not per event, and the time scale would make it 1,000 requests a second, which at this step's
 * event rates was a fifth of the service's CPU per event (92 CPU-s per 1M events with them, 71 at the real rate,
 * in runs of 200,000 events).
 */
const PIPELINE_LOOKUPS_PER_SECOND = 1 / PIPELINE_TIME_SCALE;
const AVSC = new URL('../../../schemas/membership-change.avsc', import.meta.url);

/**
 * Step 1, the pipeline ceiling: one topic, read twice in a row, by a raw kafkajs consumer with a no-op eachBatch
 * and by the whole service flushing to the simulator with its limits off. Each reader runs in a fresh process;
 * the simulator (and schema registry) in another, so neither's CPU is counted as the service's.
 */
export async function pipelineCeiling(b: Bench, encoding: 'json' | 'avro', events: number): Promise<PipelineResult> {
  const sim = await b.simulator({
    options: { timeScale: PIPELINE_TIME_SCALE, limits: { enabled: false } },
    registry: encoding === 'avro',
  });
  try {
    let schemaId: number | undefined;
    if (encoding === 'avro') {
      const registry = new SchemaRegistry({ host: sim.ready.registryUrl! });
      ({ id: schemaId } = await registry.register(
        { type: SchemaType.AVRO, schema: readFileSync(AVSC, 'utf8') },
        { subject: 'membership-change-value' },
      ));
    }
    const topic = await b.createTopic(encoding);
    const produced = await b.produce(topic, 'sample', events, b.options.producers, {
      encoding,
      ...(schemaId !== undefined ? { schemaId, registryUrl: sim.ready.registryUrl! } : {}),
    });
    b.say(
      `  produced ${produced.produced.toLocaleString('en')} ${encoding} ` +
        `events in ${produced.seconds.toFixed(1)} s (not measured)`,
    );

    const rawRole = await b.rawConsumer(topic, events);
    const raw = await rawRole.call<RawResult>('measure').finally(() => rawRole.close());
    b.say(`  raw kafkajs: ${Math.round(raw.events / raw.seconds).toLocaleString('en')} events/s`);

    const service = await b.service(`pipeline-${encoding}`, topic, sim.ready, {
      timeScale: PIPELINE_TIME_SCALE,
      registry: encoding === 'avro',
      lookupsPerSecond: PIPELINE_LOOKUPS_PER_SECOND,
    });
    const simBefore = await sim.call<Usage>('usage');
    let settled: SettledResult;
    let deadLetters: DeadLetterCounts;
    try {
      settled = await service.call<SettledResult>('waitSettled', {
        count: events,
        timeoutSeconds: Math.max(300, events / 500),
      });
      deadLetters = await service.call<DeadLetterCounts>('deadLetters');
    } finally {
      await service.close();
    }
    const simAfter = await sim.call<{ counters: SimulatorCounters; usage: Usage }>('counters');
    b.say(`  service: ${Math.round(events / settled.settledAt).toLocaleString('en')} events/s`);
    const outcome = await b.outcome(sim, workloadSlices('sample', events, b.options.producers), deadLetters);

    const rawPerSecond = raw.events / raw.seconds;
    const servicePerSecond = events / settled.settledAt;
    const rawCpuPerMillion = (raw.cpuSeconds / raw.events) * 1e6;
    const serviceCpuPerMillion = (settled.stats.cpuSeconds / events) * 1e6;
    const c = simAfter.counters;
    return {
      encoding,
      events,
      partitions: b.options.partitions,
      repeatShare: round(produced.stats.repeats / produced.stats.events, 3),
      removeShare: round(produced.stats.removes / produced.stats.events, 3),
      produceSeconds: round(produced.seconds, 1),
      raw: {
        events: raw.events,
        seconds: round(raw.seconds, 2),
        eventsPerSecond: Math.round(rawPerSecond),
        cpuSeconds: round(raw.cpuSeconds, 2),
        cpuSecondsPerMillion: round(rawCpuPerMillion, 1),
        peakRssMb: Math.round(raw.peakRssMb),
      },
      service: {
        events,
        seconds: round(settled.settledAt, 2),
        eventsPerSecond: Math.round(servicePerSecond),
        cpuSeconds: round(settled.stats.cpuSeconds, 2),
        cpuSecondsPerMillion: round(serviceCpuPerMillion, 1),
        peakRssMb: Math.round(settled.stats.peakRssMb),
        consumedSeconds: round(settled.consumedAt, 2),
        deadLettered: settled.stats.deadLettered,
        imports: c.importsAccepted,
        contactsPerImport: round(c.contactsImported / Math.max(1, c.importsAccepted), 1),
        simulatorCpuSeconds: round(simAfter.usage.cpuSeconds - simBefore.cpuSeconds, 2),
      },
      throughputRatio: round(servicePerSecond / rawPerSecond, 3),
      cpuRatio: round(serviceCpuPerMillion / rawCpuPerMillion, 2),
      outcome,
    };
  } finally {
    await sim.close();
    await b.cleanUp();
  }
}
