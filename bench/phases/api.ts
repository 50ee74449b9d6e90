import { parseConfig } from '../../src/config/load.js';
import type { SimulatorCounters } from '../../packages/ac-simulator/src/index.js';
import { workloadSlices, type Bench } from '../harness.js';
import type { DeadLetterCounts } from '../outcome.js';
import { round } from '../measure.js';
import type { ApiResult } from '../results.js';
import type { SettledResult } from '../roles/service.js';

/** ActiveCampaign's contact ceiling: 250 contacts per import, 100 imports per minute. */
export const AC_CONTACTS_PER_IMPORT = 250;
export const AC_IMPORTS_PER_MINUTE = 100;
export const AC_CONTACTS_PER_SECOND = (AC_CONTACTS_PER_IMPORT * AC_IMPORTS_PER_MINUTE) / 60;

/**
 * Above this scale the API run measures timer precision rather than the limits. The service paces each request
 * slot (222 ms at 4.5/s) with no burst, so a timer that fires d ms late loses d·k simulated ms per slot. Same
 * 20,000 contacts on a loaded 2-core machine, confirmed ÷ minimum: 1.20 at k=1, 1.27 at 2, 1.30 at 4, 1.66 at 8.
 */
export const MAX_API_TIME_SCALE = 4;

/**
 * The largest whole time scale at which ActiveCampaign's scaled contact ceiling stays at or below a third of the
 * pipeline ceiling (then the limits, not the CPU, set the pace), and at most MAX_API_TIME_SCALE; at least 1.
 */
export function timeScaleFromCeiling(pipelineEventsPerSecond: number): number {
  return Math.max(1, Math.floor(pipelineEventsPerSecond / 3 / AC_CONTACTS_PER_SECOND));
}
export const chooseTimeScale = (pipelineEventsPerSecond: number): number =>
  Math.min(MAX_API_TIME_SCALE, timeScaleFromCeiling(pipelineEventsPerSecond));

/**
 * Step 2, the API ceiling: `contacts` distinct contacts (one add each, in the topic before the service starts)
 * through the simulator with ActiveCampaign's real limits, simulator and service both at `timeScale`. Simulated
 * minutes are real seconds × timeScale ÷ 60, counted from the moment the service had joined its group.
 * `fixedTimeScale` (--api-time-scale) overrides the chosen scale, e.g. to see how much of the result is timer
 * precision.
 */
export interface ApiWorld {
  /** The simulator's per-minute import limiter and its import latency (--api-limiter, --api-latency). */
  limiter: 'sliding' | 'fixed' | 'token-bucket';
  latency: 'none' | 'lognormal' | 'pareto';
}

export async function apiCeiling(
  b: Bench,
  contacts: number,
  pipelineEventsPerSecond: number,
  fixedTimeScale = 0,
  world: ApiWorld = { limiter: 'sliding', latency: 'none' },
): Promise<ApiResult> {
  const timeScale = fixedTimeScale || chooseTimeScale(pipelineEventsPerSecond);
  const theoreticalMinutes = contacts / AC_CONTACTS_PER_IMPORT / AC_IMPORTS_PER_MINUTE;
  const sim = await b.simulator({
    options: { timeScale, importLimiter: world.limiter, importLatency: { distribution: world.latency } },
    registry: false,
  });
  try {
    const topic = await b.createTopic('api');
    const produced = await b.produce(topic, 'distinct', contacts, b.options.producers);
    b.say(
      `  produced ${produced.produced.toLocaleString('en')} distinct contacts ` +
        `in ${produced.seconds.toFixed(1)} s (not measured); time scale ${timeScale}`,
    );
    const service = await b.service('api', topic, sim.ready, { timeScale });
    // The service's own pace: at the defaults unless the benchmark's config says otherwise.
    const configured = parseConfig(b.serviceConfig(topic, sim.ready, { timeScale })).connections.main!.importsPerMinute;
    const configuredMinutes = contacts / AC_CONTACTS_PER_IMPORT / configured;
    let settled: SettledResult;
    let deadLetters: DeadLetterCounts;
    try {
      settled = await service.call<SettledResult>('waitSettled', {
        count: contacts,
        timeoutSeconds: 120 + (theoreticalMinutes * 60 * 5) / timeScale,
      });
      deadLetters = await service.call<DeadLetterCounts>('deadLetters');
    } finally {
      await service.close();
    }
    const { counters: c } = await sim.call<{ counters: SimulatorCounters }>('counters');
    const outcome = await b.outcome(sim, workloadSlices('distinct', contacts, b.options.producers), deadLetters);
    const minutes = (seconds: number) => (seconds * timeScale) / 60;
    b.say(
      `  all confirmed after ${minutes(settled.settledAt).toFixed(2)} ` +
        `simulated minutes (theoretical minimum ${theoreticalMinutes.toFixed(2)})`,
    );
    return {
      contacts,
      timeScale,
      timeScaleFromCeiling: timeScaleFromCeiling(pipelineEventsPerSecond),
      scaledLimitContactsPerSecond: round(AC_CONTACTS_PER_SECOND * timeScale, 1),
      pipelineCeilingEventsPerSecond: Math.round(pipelineEventsPerSecond),
      realSeconds: round(settled.settledAt, 2),
      simulatedMinutesToAccepted: round(minutes(settled.acceptedAt), 2),
      simulatedMinutesToConfirmed: round(minutes(settled.settledAt), 2),
      theoreticalMinutes: round(theoreticalMinutes, 2),
      acceptedToTheoretical: round(minutes(settled.acceptedAt) / theoreticalMinutes, 3),
      confirmedToTheoretical: round(minutes(settled.settledAt) / theoreticalMinutes, 3),
      configuredImportsPerMinute: configured,
      theoreticalMinutesAtConfigured: round(configuredMinutes, 2),
      confirmedToConfigured: round(minutes(settled.settledAt) / configuredMinutes, 3),
      limiter: world.limiter,
      importLatency: world.latency,
      maxImportsInWindow: c.importWindows.maxInWindow,
      maxSingleImportsInWindow: c.importWindows.maxSingleInWindow,
      importsOverWindow: c.importWindows.overAll + c.importWindows.overSingle,
      imports: c.importsAccepted,
      contactsPerImport: round(c.contactsImported / Math.max(1, c.importsAccepted), 1),
      rateLimited429: c.rateLimited429,
      bulkRateLimited: c.bulkRateLimited400,
      violations: c.violations,
      requests: c.requests,
      requestsPerImport: round(c.requests / Math.max(1, c.importsAccepted), 2),
      cpuSeconds: round(settled.stats.cpuSeconds, 2),
      peakRssMb: Math.round(settled.stats.peakRssMb),
      outcome,
    };
  } finally {
    await sim.close();
    await b.cleanUp();
  }
}
