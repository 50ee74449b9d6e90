import type { SimulatorCounters } from '../../packages/ac-simulator/src/index.js';
import { workloadSlices, type Bench } from '../harness.js';
import type { Distribution } from '../measure.js';
import type { DeadLetterCounts } from '../outcome.js';
import type { LatencyResult } from '../results.js';
import type { SettledResult } from '../roles/service.js';

/** buffer.lingerMs as the service's schema defaults it; the latency run uses the default. */
const DEFAULT_LINGER_MS = 1_000;

/**
 * Step 3, latency: a trickle of distinct contacts into a topic stamped with LogAppendTime, the service already
 * running with every default (linger 1 s, ActiveCampaign's real limits, time scale 1). Per event: the broker's
 * append time to the moment the service received ActiveCampaign's acceptance of the import carrying it (the
 * timestamps of ac_list_sync_end_to_end_seconds{from="append"}, kept exactly rather than in buckets).
 */
export async function trickleLatency(b: Bench, ratePerSecond: number, seconds: number): Promise<LatencyResult> {
  const events = Math.max(1, Math.round(ratePerSecond * seconds));
  const sim = await b.simulator({ options: { timeScale: 1 }, registry: false });
  try {
    const topic = await b.createTopic('trickle', { 'message.timestamp.type': 'LogAppendTime' });
    const service = await b.service('latency', topic, sim.ready, { timeScale: 1, recordLatency: true });
    let latency: Distribution;
    let deadLetters: DeadLetterCounts;
    try {
      await b.produce(topic, 'distinct', events, 1, { ratePerSecond });
      await service.call<SettledResult>('waitSettled', { count: events, timeoutSeconds: 120 + seconds });
      latency = await service.call<Distribution>('latency');
      deadLetters = await service.call<DeadLetterCounts>('deadLetters');
    } finally {
      await service.close();
    }
    const { counters } = await sim.call<{ counters: SimulatorCounters }>('counters');
    const outcome = await b.outcome(sim, workloadSlices('distinct', events, 1), deadLetters);
    b.say(`  p50 ${Math.round(latency.p50)} ms, p99 ${Math.round(latency.p99)} ms over ${latency.count} events`);
    return {
      ratePerSecond,
      seconds,
      events: latency.count,
      lingerMs: DEFAULT_LINGER_MS,
      timeScale: 1,
      p50Ms: Math.round(latency.p50),
      p90Ms: Math.round(latency.p90),
      p99Ms: Math.round(latency.p99),
      maxMs: Math.round(latency.max),
      rateLimited429: counters.rateLimited429,
      outcome,
    };
  } finally {
    await sim.close();
    await b.cleanUp();
  }
}
