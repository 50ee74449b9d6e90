import { configSchema } from '../../src/config/schema.js';
import { workloadSlices, type Bench } from '../harness.js';
import { round } from '../measure.js';
import type { DeadLetterCounts } from '../outcome.js';
import type { OutageResult } from '../results.js';
import type { HeapSample, ServiceStats, SettledResult } from '../roles/service.js';
import { PIPELINE_TIME_SCALE } from './pipeline.js';

/** buffer.maxPendingEvents as the service's schema defaults it. */
const DEFAULT_MAX_PENDING = configSchema.shape.buffer.parse(undefined).maxPendingEvents;
/** Events settled before the outage starts. */
const WARM_UP = 2_000;

/**
 * Step 4b, memory during an outage: the service runs on an empty topic, the simulator starts answering 503 to
 * everything, and `events` sample events are written while it is down. The service's peak RSS and its peak of
 * unsettled events are read once the topic has stopped growing, before the simulator comes back; then the
 * time until everything has settled. Limits off and time scale as in step 1, so the recovery is quick.
 */
export async function outageMemory(b: Bench, events: number): Promise<OutageResult> {
  const sim = await b.simulator({
    options: { timeScale: PIPELINE_TIME_SCALE, limits: { enabled: false } },
    registry: false,
  });
  try {
    const topic = await b.createTopic('outage');
    const service = await b.service('outage', topic, sim.ready, { timeScale: PIPELINE_TIME_SCALE });
    try {
      // A warm-up first (connections, compiled code, metrics), so that the heap measured before the outage holds
      // everything but the unsettled events.
      await b.produce(topic, 'distinct', WARM_UP, 1);
      await service.call<SettledResult>('waitSettled', { count: WARM_UP, timeoutSeconds: 120 });
      const base = await service.call<HeapSample>('heap');
      await sim.call('configure', { unavailable: true });
      const produced = await b.produce(topic, 'sample', events, 1);
      await new Promise((r) => setTimeout(r, 2_000)); // the service sees the end of the topic
      const during = await service.call<ServiceStats>('stats');
      // Everything taken is unsettled now (and each event is a distinct record): the heap it adds, per event.
      const held = await service.call<HeapSample>('heap');
      const perEvent = held.pending > 0 ? (held.bytes - base.bytes) / held.pending : 0;
      b.say(
        `  bytes per unsettled event: ${Math.round(perEvent)} (heap + array buffers after a ` +
          `collection, ${((held.bytes - base.bytes) / 1e6).toFixed(1)} ` +
          `MB ÷ ${held.pending.toLocaleString('en')} events)`,
      );
      b.say(
        `  during the outage: ${during.consumed.toLocaleString('en')} ` +
          `of ${events.toLocaleString('en')} events taken, peak ${Math.round(during.peakRssMb)} MB RSS, ` +
          `fetching ${during.everPaused ? 'paused' : 'never paused'}`,
      );
      await sim.call('configure', { unavailable: false });
      const settled = await service.call<SettledResult>('waitSettled', {
        count: WARM_UP + events,
        timeoutSeconds: Math.max(300, events / 500),
      });
      const deadLetters = await service.call<DeadLetterCounts>('deadLetters');
      // The warm-up's contacts (contactN@) and the outage's (userN@) are apart, so one check covers both.
      const outcome = await b.outcome(
        sim,
        [...workloadSlices('distinct', WARM_UP, 1), ...workloadSlices('sample', events, 1)],
        deadLetters,
      );
      return {
        events,
        produceSeconds: round(produced.seconds, 1),
        peakRssMb: Math.round(during.peakRssMb),
        consumedDuringOutage: during.consumed - WARM_UP,
        peakPendingEvents: during.peakPending,
        bytesPerUnsettledEvent: Math.round(perEvent),
        maxPendingEvents: DEFAULT_MAX_PENDING,
        fetchingPaused: during.everPaused,
        recoverySeconds: round(settled.settledAt - during.at, 2),
        peakRssMbAfterRecovery: Math.round(settled.stats.peakRssMb),
        outcome,
      };
    } finally {
      await service.close();
    }
  } finally {
    await sim.close();
    await b.cleanUp();
  }
}
