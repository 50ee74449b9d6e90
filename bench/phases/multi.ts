import type { SimulatorCounters } from '../../packages/ac-simulator/src/index.js';
import { workloadSlices, type Bench } from '../harness.js';
import { round } from '../measure.js';
import type { DeadLetterCounts } from '../outcome.js';
import type { MultiListResult } from '../results.js';
import type { SettledResult } from '../roles/service.js';
import { MULTI_SEGMENTS } from '../workload.js';
import { AC_CONTACTS_PER_IMPORT, AC_IMPORTS_PER_MINUTE, chooseTimeScale, timeScaleFromCeiling } from './api.js';

/** The most list changes a minute can carry when each contact changes in one list: 250 × 100 = 25,000. */
export const SINGLE_LIST_CEILING_PER_MINUTE = AC_CONTACTS_PER_IMPORT * AC_IMPORTS_PER_MINUTE;

/**
 * Step 6, beyond the single-list ceiling: `contacts` distinct contacts, each joining lists 1, 2 and 3 at once (three
 * events next to each other in the topic, bench/workload.ts `multi`), through the simulator with ActiveCampaign's
 * real limits, as step 2. One contact entry of a bulk import carries all three changes, so the limits (250 contacts
 * per import, 100 imports/min) cap contacts, not list changes: list changes per minute can pass 25,000, the most a
 * single-list workload can reach. The time scale keeps the scaled ceiling's events (3 per contact) at or below a
 * third of step 1's JSON ceiling, as step 2's does for one event per contact. Then the outcome, as every step's
 * (Bench.outcome): each list's members against the newest event per (list, email), no dead letter.
 */
export async function multiListCeiling(
  b: Bench,
  contacts: number,
  pipelineEventsPerSecond: number,
  fixedTimeScale = 0,
): Promise<MultiListResult> {
  const lists = MULTI_SEGMENTS.length;
  const perContact = pipelineEventsPerSecond / lists;
  const timeScale = fixedTimeScale || chooseTimeScale(perContact);
  const changes = contacts * lists;
  const theoreticalMinutes = contacts / AC_CONTACTS_PER_IMPORT / AC_IMPORTS_PER_MINUTE;
  const sim = await b.simulator({ options: { timeScale }, registry: false });
  try {
    const topic = await b.createTopic('multi');
    const slices = workloadSlices('multi', contacts, b.options.producers);
    const produced = await b.produce(topic, 'multi', contacts, b.options.producers);
    b.say(
      `  produced ${produced.produced.toLocaleString('en')} events (${contacts.toLocaleString('en')} ` +
        `contacts × ${lists} lists) in ${produced.seconds.toFixed(1)} s (not measured); time scale ${timeScale}`,
    );
    const service = await b.service('multi', topic, sim.ready, { timeScale });
    let settled: SettledResult;
    let deadLetters: DeadLetterCounts;
    try {
      settled = await service.call<SettledResult>('waitSettled', {
        count: changes,
        timeoutSeconds: 120 + (theoreticalMinutes * 60 * 5) / timeScale,
      });
      deadLetters = await service.call<DeadLetterCounts>('deadLetters');
    } finally {
      await service.close();
    }
    const { counters: c } = await sim.call<{ counters: SimulatorCounters }>('counters');
    const outcome = await b.outcome(sim, slices, deadLetters);
    const minutes = (seconds: number) => (seconds * timeScale) / 60;
    const confirmed = minutes(settled.settledAt);
    b.say(
      `  all confirmed after ${confirmed.toFixed(2)} simulated ` +
        `minutes: ${Math.round(contacts / confirmed).toLocaleString('en')} ` +
        `contacts/min, ${Math.round(changes / confirmed).toLocaleString('en')} list changes/min ` +
        `(single-list ceiling ${SINGLE_LIST_CEILING_PER_MINUTE.toLocaleString('en')})`,
    );
    return {
      contacts,
      listsPerContact: lists,
      listChanges: changes,
      timeScale,
      timeScaleFromCeiling: timeScaleFromCeiling(perContact),
      pipelineCeilingEventsPerSecond: Math.round(pipelineEventsPerSecond),
      realSeconds: round(settled.settledAt, 2),
      simulatedMinutesToAccepted: round(minutes(settled.acceptedAt), 2),
      simulatedMinutesToConfirmed: round(confirmed, 2),
      contactsPerMinute: Math.round(contacts / confirmed),
      listChangesPerMinute: Math.round(changes / confirmed),
      singleListCeilingPerMinute: SINGLE_LIST_CEILING_PER_MINUTE,
      listChangesToSingleListCeiling: round(changes / confirmed / SINGLE_LIST_CEILING_PER_MINUTE, 3),
      theoreticalMinutes: round(theoreticalMinutes, 2),
      confirmedToTheoretical: round(confirmed / theoreticalMinutes, 3),
      imports: c.importsAccepted,
      contactsPerImport: round(c.contactsImported / Math.max(1, c.importsAccepted), 1),
      listChangesPerImport: round(changes / Math.max(1, c.importsAccepted), 1),
      requestsPerImport: round(c.requests / Math.max(1, c.importsAccepted), 2),
      rateLimited429: c.rateLimited429,
      violations: c.violations,
      cpuSeconds: round(settled.stats.cpuSeconds, 2),
      peakRssMb: Math.round(settled.stats.peakRssMb),
      outcome,
    };
  } finally {
    await sim.close();
    await b.cleanUp();
  }
}
