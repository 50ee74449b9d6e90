import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderMarkdown } from '../../bench/report.js';
import { outcomeProblems, resultProblems, type BenchResults, type PipelineResult } from '../../bench/results.js';

const right = (checked: number) => ({
  checked,
  membershipDifferences: 0,
  examples: [],
  deadLetters: {},
  expectedDeadLetters: {},
  ok: true,
});
const reader = (eventsPerSecond: number) => ({
  events: 1_000,
  seconds: 1_000 / eventsPerSecond,
  eventsPerSecond,
  cpuSeconds: 0.5,
  cpuSecondsPerMillion: 500,
  peakRssMb: 100,
});
const pipeline = (encoding: 'json' | 'avro'): PipelineResult => ({
  encoding,
  events: 1_000,
  partitions: 2,
  repeatShare: 0.3,
  removeShare: 0.16,
  produceSeconds: 0.5,
  raw: reader(100_000),
  service: {
    ...reader(20_000),
    consumedSeconds: 0.04,
    deadLettered: 0,
    imports: 4,
    contactsPerImport: 200,
    simulatorCpuSeconds: 0.1,
  },
  throughputRatio: 0.2,
  cpuRatio: 1,
  outcome: right(900),
});
const valid = (): BenchResults => ({
  version: 1,
  smoke: true,
  startedAt: '2026-11-28T10:00:00.000Z',
  finishedAt: '2026-11-28T10:01:00.000Z',
  durationSeconds: 60,
  machine: {
    cpus: 2,
    node: 'v20.19.0',
    platform: 'linux-x64',
    commit: 'abc1234',
    loadAverageStart: [1, 1, 1],
    loadAverageEnd: [2, 1, 1],
  },
  options: { jsonEvents: 1_000, smoke: true, out: '/tmp' },
  pipeline: { json: pipeline('json'), avro: pipeline('avro') },
  api: {
    contacts: 5_000,
    timeScale: 4,
    timeScaleFromCeiling: 9,
    scaledLimitContactsPerSecond: 3_750,
    pipelineCeilingEventsPerSecond: 12_000,
    realSeconds: 2.4,
    simulatedMinutesToAccepted: 0.33,
    simulatedMinutesToConfirmed: 0.36,
    theoreticalMinutes: 0.2,
    acceptedToTheoretical: 1.65,
    confirmedToTheoretical: 1.8,
    configuredImportsPerMinute: 98,
    theoreticalMinutesAtConfigured: 0.2,
    confirmedToConfigured: 1.76,
    limiter: 'sliding',
    importLatency: 'none',
    maxImportsInWindow: 20,
    maxSingleImportsInWindow: 0,
    importsOverWindow: 0,
    imports: 20,
    contactsPerImport: 250,
    rateLimited429: 0,
    bulkRateLimited: 0,
    violations: 0,
    requests: 70,
    requestsPerImport: 3.5,
    cpuSeconds: 1,
    peakRssMb: 130,
    outcome: right(5_000),
  },
  latency: {
    ratePerSecond: 20,
    seconds: 5,
    events: 100,
    lingerMs: 1_000,
    timeScale: 1,
    p50Ms: 600,
    p90Ms: 1_100,
    p99Ms: 1_300,
    maxMs: 1_400,
    rateLimited429: 0,
    outcome: right(100),
  },
  memory: {
    apiCeilingPeakRssMb: 130,
    outage: {
      events: 5_000,
      produceSeconds: 0.4,
      peakRssMb: 120,
      consumedDuringOutage: 5_000,
      peakPendingEvents: 5_000,
      bytesPerUnsettledEvent: 900,
      maxPendingEvents: 200_000,
      fetchingPaused: true,
      recoverySeconds: 0.2,
      peakRssMbAfterRecovery: 125,
      outcome: right(3_000),
    },
  },
  restore: {
    records: 20_000,
    partitions: 2,
    rounds: 3,
    raw: { seconds: 1, recordsPerSecond: 20_000, cpuSeconds: 0.5, peakRssMb: 100 },
    restore: {
      seconds: 1.1,
      recordsPerSecond: 18_182,
      cpuSeconds: 0.9,
      peakRssMb: 110,
      entries: 20_000,
      indexBytesPerEntry: 52.1,
    },
    speedRatio: 0.909,
  },
  multiList: {
    contacts: 1_500,
    listsPerContact: 3,
    listChanges: 4_500,
    timeScale: 1,
    timeScaleFromCeiling: 1,
    pipelineCeilingEventsPerSecond: 3_000,
    realSeconds: 4.2,
    simulatedMinutesToAccepted: 0.068,
    simulatedMinutesToConfirmed: 0.07,
    contactsPerMinute: 21_429,
    listChangesPerMinute: 64_286,
    singleListCeilingPerMinute: 25_000,
    listChangesToSingleListCeiling: 2.571,
    theoreticalMinutes: 0.06,
    confirmedToTheoretical: 1.167,
    imports: 6,
    contactsPerImport: 250,
    listChangesPerImport: 750,
    requestsPerImport: 2.5,
    rateLimited429: 0,
    violations: 0,
    cpuSeconds: 1.1,
    peakRssMb: 140,
    outcome: right(4_500),
  },
});

test('well-formed results have no problems and render every section', () => {
  const r = valid();
  assert.deepEqual(resultProblems(r), []);
  const md = renderMarkdown(r);
  for (const s of [
    '**1. Pipeline ceiling**',
    '**2. API ceiling**',
    '**3. Latency**',
    '**4. Memory**',
    '**5. Ledger restore**',
    '**6. Beyond the single-list ceiling**',
    '| 1,500 × 3 |',
    '**64,286** | **2.571**',
    'right: 0 of 4,500 differ; 0 dead letters (0 expected)',
    'Outcome of each step',
    '| JSON | 1,000 | 100,000 | 20,000 | **0.200**',
  ])
    assert.ok(md.includes(s), s);
});

test('a measurement that produced nothing, a missing section or an unknown key is named', () => {
  const noLatency = valid() as unknown as { latency: Record<string, unknown> };
  noLatency.latency.p99Ms = JSON.parse(JSON.stringify(Number.NaN)); // NaN is written as null
  assert.deepEqual(resultProblems(noLatency), ['latency.p99Ms: Invalid input: expected number, received null']);

  const zeroRate = valid();
  zeroRate.pipeline.avro.raw.eventsPerSecond = 0;
  assert.match(resultProblems(zeroRate).join('\n'), /^pipeline\.avro\.raw\.eventsPerSecond: /);

  const { api: _api, ...noApi } = valid();
  assert.match(resultProblems(noApi).join('\n'), /^api: /);
  assert.match(resultProblems({ ...valid(), extra: 1 }).join('\n'), /extra/);
});

test('a wrong outcome is a problem of its own, naming the differences and the dead letters', () => {
  assert.deepEqual(outcomeProblems(valid()), []);
  const wrong = valid();
  wrong.multiList.outcome = {
    checked: 4_500,
    membershipDifferences: 2,
    examples: ['list 2: multi7@example.com should be subscribed, is absent'],
    deadLetters: { 'deliver/AC_REFUSED': 1 },
    expectedDeadLetters: {},
    ok: false,
  };
  assert.deepEqual(resultProblems(wrong), [], 'a wrong run is still well formed: the file records it');
  wrong.api.outcome = {
    ...wrong.api.outcome,
    membershipDifferences: 1,
    examples: ['list 1: contact0@example.com should be subscribed, is absent'],
    ok: false,
  };
  assert.deepEqual(outcomeProblems(wrong), [
    'api: 1 of 5000 (list, email) memberships differ from the newest event (e.g. list 1: contact0@example.com should be subscribed, is absent); dead letters none, expected none',
    'multiList: 2 of 4500 (list, email) memberships differ from the newest event (e.g. list 2: multi7@example.com should be subscribed, is absent); dead letters deliver/AC_REFUSED 1, expected none',
  ]);
  assert.match(renderMarkdown(wrong), /\*\*WRONG\*\*: 2 of 4,500 differ; 1 dead letters \(0 expected\)/);
  assert.match(renderMarkdown(wrong), /2\. API \*\*WRONG\*\*: 1 of 5,000 differ/);
});
