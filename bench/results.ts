import { z } from 'zod';

/**
 * The shape of bench/results/latest.json, declared once: the benchmark builds it, checks its own output against
 * it before writing, and the smoke test checks the file with it. Every number is finite; rates, times and sizes
 * are positive (a run that measured nothing is not well formed).
 */
const positive = z.number().positive();
const nonNegative = z.number().nonnegative();

const count = z.number().int().nonnegative();
/** Whether the step did the right thing (Bench.outcome): a wrong outcome fails the benchmark however fast. */
const outcome = z.strictObject({
  /** (list, email) pairs the workload touched, and those whose final membership differs from the newest event. */
  checked: count,
  membershipDifferences: count,
  examples: z.array(z.string()),
  /** Dead letters by `stage/code`, and those the workload should make. */
  deadLetters: z.record(z.string(), count),
  expectedDeadLetters: z.record(z.string(), count),
  ok: z.boolean(),
});

const processNumbers = z.strictObject({
  events: z.number().int().positive(),
  /** From the moment the consumer had joined its group until the last event was read (raw) or settled (service). */
  seconds: positive,
  eventsPerSecond: positive,
  /** User + system CPU of that process over the same interval. */
  cpuSeconds: positive,
  cpuSecondsPerMillion: positive,
  peakRssMb: positive,
});

const pipeline = z.strictObject({
  encoding: z.enum(['json', 'avro']),
  events: z.number().int().positive(),
  partitions: z.number().int().positive(),
  /** Events that repeat a (segment, profile) pair seen before, and removes, as shares of all events. */
  repeatShare: nonNegative,
  removeShare: nonNegative,
  produceSeconds: positive,
  raw: processNumbers,
  service: processNumbers.extend({
    consumedSeconds: positive,
    deadLettered: z.number().int().nonnegative(),
    imports: z.number().int().positive(),
    contactsPerImport: positive,
    /** CPU of the simulator process meanwhile: not part of cpuSeconds. */
    simulatorCpuSeconds: nonNegative,
  }),
  /** service events/s ÷ raw events/s, and service CPU per event ÷ raw CPU per event. */
  throughputRatio: positive,
  cpuRatio: positive,
  outcome,
});

const api = z.strictObject({
  contacts: z.number().int().positive(),
  timeScale: positive,
  /** The largest scale a third of the pipeline ceiling allows; timeScale is this, capped (bench/phases/api.ts). */
  timeScaleFromCeiling: positive,
  /** ActiveCampaign's contact ceiling (250 per import × 100 imports/min), per second, times timeScale. */
  scaledLimitContactsPerSecond: positive,
  /** The JSON service ceiling of step 1 it was kept under (at most a third of it). */
  pipelineCeilingEventsPerSecond: positive,
  realSeconds: positive,
  simulatedMinutesToAccepted: positive,
  simulatedMinutesToConfirmed: positive,
  /** contacts ÷ 250 ÷ 100 per minute. */
  theoreticalMinutes: positive,
  acceptedToTheoretical: positive,
  confirmedToTheoretical: positive,
  /** The service's connection.importsPerMinute, the minimum at that pace, and confirmed ÷ that minimum. */
  configuredImportsPerMinute: positive,
  theoreticalMinutesAtConfigured: positive,
  confirmedToConfigured: positive,
  /** The simulator's import limiter and import latency in this run. */
  limiter: z.enum(['sliding', 'fixed', 'token-bucket']),
  importLatency: z.enum(['none', 'lognormal', 'pareto']),
  /**
   * The simulator's audit of every 60 s window (whatever limiter was in force): the most imports seen,
   * and those over 100 (20).
   */
  maxImportsInWindow: z.number().int().nonnegative(),
  maxSingleImportsInWindow: z.number().int().nonnegative(),
  importsOverWindow: z.number().int().nonnegative(),
  imports: z.number().int().positive(),
  contactsPerImport: positive,
  rateLimited429: z.number().int().nonnegative(),
  bulkRateLimited: z.number().int().nonnegative(),
  violations: z.number().int().nonnegative(),
  requests: z.number().int().positive(),
  /** Every /api/3 request (imports, confirmation polls, start-up and readiness checks) per accepted import. */
  requestsPerImport: positive,
  cpuSeconds: positive,
  peakRssMb: positive,
  outcome,
});

const latency = z.strictObject({
  ratePerSecond: positive,
  seconds: positive,
  events: z.number().int().positive(),
  lingerMs: nonNegative,
  timeScale: positive,
  /** Kafka LogAppendTime → the service's receipt of ActiveCampaign's acceptance, per event. */
  p50Ms: nonNegative,
  p90Ms: nonNegative,
  p99Ms: nonNegative,
  maxMs: nonNegative,
  rateLimited429: z.number().int().nonnegative(),
  outcome,
});

const outage = z.strictObject({
  events: z.number().int().positive(),
  produceSeconds: positive,
  /** Measured at the end of the outage, before the simulator answers again. */
  peakRssMb: positive,
  consumedDuringOutage: z.number().int().nonnegative(),
  peakPendingEvents: z.number().int().nonnegative(),
  /** (heap + array buffers) during the outage minus before it, after full collections, ÷ the unsettled events. */
  bytesPerUnsettledEvent: positive,
  maxPendingEvents: z.number().int().positive(),
  fetchingPaused: z.boolean(),
  /** From the simulator answering again until every event had settled. */
  recoverySeconds: positive,
  peakRssMbAfterRecovery: positive,
  outcome,
});

const reader = z.strictObject({
  seconds: positive,
  recordsPerSecond: positive,
  cpuSeconds: positive,
  peakRssMb: positive,
});
const restore = z.strictObject({
  records: z.number().int().positive(),
  partitions: z.number().int().positive(),
  /** Rounds of raw then restore, each in a fresh process: each side's fastest round is reported. */
  rounds: z.number().int().positive(),
  /** Each from before its consumer joins the group until the last record was read (and, for the restore, indexed). */
  raw: reader,
  restore: reader.extend({ entries: z.number().int().positive(), indexBytesPerEntry: positive }),
  /** Restore speed ÷ raw speed (raw seconds ÷ restore seconds): at least 0.8 is the target. */
  speedRatio: positive,
});

const multiList = z.strictObject({
  contacts: z.number().int().positive(),
  /** Lists each contact joins at once (three events in the topic, one contact entry in an import). */
  listsPerContact: z.number().int().positive(),
  /** contacts × listsPerContact: one per event. */
  listChanges: z.number().int().positive(),
  /** As step 2's, from the JSON ceiling ÷ listsPerContact (events per contact). */
  timeScale: positive,
  timeScaleFromCeiling: positive,
  pipelineCeilingEventsPerSecond: positive,
  realSeconds: positive,
  simulatedMinutesToAccepted: positive,
  simulatedMinutesToConfirmed: positive,
  /** contacts and list changes ÷ simulated minutes until all confirmed. */
  contactsPerMinute: positive,
  listChangesPerMinute: positive,
  /**
   * The reference: 250 contacts × 100 imports/min, the most list changes a minute when each contact changes one list.
   */
  singleListCeilingPerMinute: positive,
  listChangesToSingleListCeiling: positive,
  /** contacts ÷ 250 ÷ 100 per minute, and confirmed ÷ that. */
  theoreticalMinutes: positive,
  confirmedToTheoretical: positive,
  imports: z.number().int().positive(),
  contactsPerImport: positive,
  listChangesPerImport: positive,
  requestsPerImport: positive,
  rateLimited429: count,
  violations: count,
  cpuSeconds: positive,
  peakRssMb: positive,
  outcome,
});

export const benchResultsSchema = z.strictObject({
  version: z.literal(1),
  smoke: z.boolean(),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  durationSeconds: positive,
  machine: z.strictObject({
    cpus: z.number().int().positive(),
    node: z.string().min(1),
    platform: z.string().min(1),
    commit: z.string(),
    /** os.loadavg() (1, 5, 15 min) before the first and after the last step. */
    loadAverageStart: z.array(nonNegative).length(3),
    loadAverageEnd: z.array(nonNegative).length(3),
  }),
  options: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])),
  pipeline: z.strictObject({ json: pipeline, avro: pipeline }),
  api,
  latency,
  memory: z.strictObject({ apiCeilingPeakRssMb: positive, outage }),
  restore,
  multiList,
});

export type BenchResults = z.infer<typeof benchResultsSchema>;
export type PipelineResult = z.infer<typeof pipeline>;
export type ApiResult = z.infer<typeof api>;
export type LatencyResult = z.infer<typeof latency>;
export type OutageResult = z.infer<typeof outage>;
export type RestoreResultSection = z.infer<typeof restore>;
export type MultiListResult = z.infer<typeof multiList>;
export type OutcomeResult = z.infer<typeof outcome>;

/** Problems with a results file, one line each (empty when it is well formed). */
export function resultProblems(value: unknown): string[] {
  const parsed = benchResultsSchema.safeParse(value);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
}

/** Steps whose outcome was wrong (membership or dead letters), one line each: each fails the benchmark. */
export function outcomeProblems(r: BenchResults): string[] {
  const steps: Array<[string, OutcomeResult]> = [
    ['pipeline.json', r.pipeline.json.outcome],
    ['pipeline.avro', r.pipeline.avro.outcome],
    ['api', r.api.outcome],
    ['latency', r.latency.outcome],
    ['memory.outage', r.memory.outage.outcome],
    ['multiList', r.multiList.outcome],
  ];
  const dead = (c: Record<string, number>) =>
    Object.entries(c)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ') || 'none';
  return steps
    .filter(([, o]) => !o.ok)
    .map(
      ([step, o]) =>
        `${step}: ${o.membershipDifferences} of ${o.checked} (list, email) ` +
        `memberships differ from the newest event${o.examples.length ? ` (e.g. ${o.examples.join('; ')})` : ''}; ` +
        `dead letters ${dead(o.deadLetters)}, expected ${dead(o.expectedDeadLetters)}`,
    );
}
