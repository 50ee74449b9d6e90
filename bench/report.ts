import { MAX_API_TIME_SCALE } from './phases/api.js';
import type { BenchResults, MultiListResult, OutcomeResult, PipelineResult } from './results.js';

/** The results as the markdown the benchmark prints, writes beside latest.json, and the README quotes. Pure. */
const n = (v: number) => Math.round(v).toLocaleString('en');
const f = (v: number, digits = 2) => v.toFixed(digits);
const mb = (v: number) => `${n(v)} MB`;
const ms = (v: number) => `${n(v)} ms`;
const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');

function pipelineRow(p: PipelineResult): string {
  const input = p.encoding === 'json' ? 'JSON' : 'Avro (registry)';
  return (
    `| ${input} | ${n(p.events)} | ${n(p.raw.eventsPerSecond)} | ${n(p.service.eventsPerSecond)} | ` +
    `**${f(p.throughputRatio, 3)}** | ${f(p.raw.cpuSecondsPerMillion, 1)} ` +
    `/ ${f(p.service.cpuSecondsPerMillion, 1)} (×${f(p.cpuRatio, 1)}) ` +
    `| ${n(p.raw.peakRssMb)} / ${n(p.service.peakRssMb)} | ${f(p.service.contactsPerImport, 1)} |`
  );
}

function outcomeCell(o: OutcomeResult): string {
  const dead = Object.values(o.deadLetters).reduce((a, b) => a + b, 0);
  const expected = Object.values(o.expectedDeadLetters).reduce((a, b) => a + b, 0);
  return (
    `${o.ok ? 'right' : '**WRONG**'}: ${n(o.membershipDifferences)} ` +
    `of ${n(o.checked)} differ; ${n(dead)} dead letters (${n(expected)} expected)`
  );
}

function outcomes(r: BenchResults): string {
  const steps: Array<[string, OutcomeResult]> = [
    ['1. JSON', r.pipeline.json.outcome],
    ['1. Avro', r.pipeline.avro.outcome],
    ['2. API', r.api.outcome],
    ['3. Latency', r.latency.outcome],
    ['4. Outage', r.memory.outage.outcome],
    ['6. Three lists', r.multiList.outcome],
  ];
  return steps.map(([step, o]) => `${step} ${outcomeCell(o)}`).join('; ');
}

function multiListSection(m: MultiListResult): string[] {
  return [
    '**6. Beyond the single-list ceiling**, measured against the single-list ceiling (250 contacts per ' +
      `import × 100 imports/min = ${n(m.singleListCeilingPerMinute)} list changes/min). ${n(m.contacts)} ` +
      `distinct contacts, each joining ${m.listsPerContact} lists at once (${m.listsPerContact} events next ` +
      'to each other in the topic, carried by one contact entry of an import), real limits, ' +
      `time scale ${m.timeScale} (the scaled ceiling's ${m.listsPerContact} events per contact at most a third of ` +
      `the JSON service ceiling, which allows up to ${m.timeScaleFromCeiling}). Minutes are simulated; the minimum ` +
      "is ActiveCampaign's for these contacts (contacts ÷ 250 ÷ 100 imports/min), whatever lists they change. " +
      "Outcome: each list's final members against the newest event per (list, email), and the dead letters by code.",
    '',
    '| Contacts × lists | Minutes until all confirmed | Contacts/min | List ' +
      'changes/min | ÷ single-list ceiling | Confirmed ÷ minimum | List changes ' +
      'per import | Requests per import | 429s | Violations | Peak RSS | Outcome |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|',
    `| ${n(m.contacts)} × ${m.listsPerContact} | ${f(m.simulatedMinutesToConfirmed)} ` +
      `| ${n(m.contactsPerMinute)} | **${n(m.listChangesPerMinute)}** | ` +
      `**${f(m.listChangesToSingleListCeiling, 3)}** | ${f(m.confirmedToTheoretical, 3)} ` +
      `| ${f(m.listChangesPerImport, 1)} | ${f(m.requestsPerImport, 2)} | ${n(m.rateLimited429)} ` +
      `| ${n(m.violations)} | ${mb(m.peakRssMb)} | ${outcomeCell(m.outcome)} |`,
    '',
  ];
}

export function renderMarkdown(r: BenchResults): string {
  const { json, avro } = r.pipeline;
  const { api, latency, memory } = r;
  const o = memory.outage;
  const rs = r.restore;
  const capped =
    api.timeScale < api.timeScaleFromCeiling
      ? `; capped at ${MAX_API_TIME_SCALE} so that late timers do not count`
      : '';
  const lines = [
    `Benchmark run of ${r.startedAt.slice(0, 16).replace('T', ' ')} ` +
      `UTC${r.smoke ? ' (smoke sizes)' : ''}: ${r.machine.cpus} CPUs, Node ${r.machine.node}, ` +
      `commit ${r.machine.commit || 'unknown'}, ${f(r.durationSeconds / 60, 1)} min in all. Load average (1 ` +
      `/ 5 / 15 min) ${load(r.machine.loadAverageStart)} before, ${load(r.machine.loadAverageEnd)} after.`,
    '',
    'Outcome of each step (its final members in the simulator against the newest event per (list, ' +
      `email) written, and its dead letters by code): ${outcomes(r)}.`,
    '',
    '**1. Pipeline ceiling**, measured against a raw kafkajs consumer (no-op eachBatch) ' +
      `reading the same topic in the same run. ${n(json.events)} JSON events over 5 lists ` +
      `(${f(json.repeatShare * 100, 0)}% repeats and flaps, ${json.partitions} partitions). The service decodes, ` +
      'validates, buffers, dedupes, builds and sends bulk imports and confirms them, against the simulator ' +
      'with its limits off (its profile lookups at their default real rate, one a second); events/s count ' +
      'until every event has settled. CPU is user + system of each ' +
      "reader's own process; the simulator runs in a separate process and is not counted (it " +
      `used ${f(json.service.simulatorCpuSeconds, 1)} s JSON, ${f(avro.service.simulatorCpuSeconds, 1)} s Avro).`,
    '',
    '| Input | Events | Raw kafkajs events/s | Service events/s | Service ÷ raw | CPU ' +
      's per 1M events, raw / service | Peak RSS MB, raw / service | Contacts per import |',
    '|---|--:|--:|--:|--:|--:|--:|--:|',
    pipelineRow(json),
    pipelineRow(avro),
    '',
    "**2. API ceiling**, measured against ActiveCampaign's theoretical minimum (contacts ÷ 250 per import ÷ " +
      `100 imports/min). ${n(api.contacts)} distinct contacts, real limits, time scale ${api.timeScale}: ` +
      `the scaled ceiling of ${n(api.scaledLimitContactsPerSecond)} contacts/s is at most a third of the JSON ` +
      `service ceiling above (${n(api.pipelineCeilingEventsPerSecond)} events/s, which allows up ` +
      `to ${api.timeScaleFromCeiling}${capped}). ` +
      `Minutes are simulated (real seconds × ${api.timeScale} ÷ 60). The service runs at its defaults (4.5 ` +
      `requests/s, ${api.configuredImportsPerMinute} imports in any 60 s window); against that pace, ` +
      `confirmed ÷ minimum is ${f(api.confirmedToConfigured, 3)}. Simulator: ${api.limiter} import limiter, ` +
      `import latency ${api.importLatency}; the most imports it saw in any 60 s ` +
      `window: ${n(api.maxImportsInWindow)} (single-contact: ${n(api.maxSingleImportsInWindow)}), ` +
      `over the limits: ${n(api.importsOverWindow)}.`,
    '',
    '| Contacts | Minutes until all accepted | Minutes until all confirmed | Theoretical minimum | Accepted ' +
      '÷ minimum | Confirmed ÷ minimum | Contacts per import | Requests per import | 429s | Violations |',
    '|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    `| ${n(api.contacts)} | ${f(api.simulatedMinutesToAccepted)} | ${f(api.simulatedMinutesToConfirmed)} ` +
      `| ${f(api.theoreticalMinutes)} | **${f(api.acceptedToTheoretical, 3)}** | ` +
      `**${f(api.confirmedToTheoretical, 3)}** | ${f(api.contactsPerImport, 1)} ` +
      `| ${f(api.requestsPerImport, 2)} | ${n(api.rateLimited429)} | ${n(api.violations)} |`,
    '',
    "**3. Latency**, from Kafka append (LogAppendTime) to the service receiving ActiveCampaign's acceptance, " +
      `per event, with the default linger of ${n(latency.lingerMs)} ms and real limits (time scale 1).`,
    '',
    '| Trickle | Events | p50 | p90 | p99 | max | 429s |',
    '|---|--:|--:|--:|--:|--:|--:|',
    `| ${n(latency.ratePerSecond)} events/s for ${n(latency.seconds)} s | ${n(latency.events)} ` +
      `| ${ms(latency.p50Ms)} | ${ms(latency.p90Ms)} | ${ms(latency.p99Ms)} ` +
      `| ${ms(latency.maxMs)} | ${n(latency.rateLimited429)} |`,
    '',
    '**4. Memory**: peak RSS of the service process.',
    '',
    '| Run | Peak RSS | What it holds |',
    '|---|--:|---|',
    `| API ceiling, ${n(api.contacts)} contacts | ${mb(memory.apiCeilingPeakRssMb)} | the backlog ` +
      '(up to buffer.maxPendingEvents unsettled events) buffered while imports go out at the limit |',
    `| Outage: ${n(o.events)} events written while ActiveCampaign answers 503 | ${mb(o.peakRssMb)} ` +
      `| ${n(o.consumedDuringOutage)} events taken (peak ${n(o.peakPendingEvents)} unsettled; ` +
      `buffer.maxPendingEvents ${n(o.maxPendingEvents)}); ` +
      `fetching ${o.fetchingPaused ? 'paused' : 'never paused'}. Back up: ` +
      `all settled ${f(o.recoverySeconds, 1)} s later, peak ${mb(o.peakRssMbAfterRecovery)} by then |`,
    '',
    `Bytes per unsettled event: **${n(o.bytesPerUnsettledEvent)}** (heap + array buffers after ` +
      `a full collection, during the outage minus before it, ÷ the ${n(o.peakPendingEvents)} ` +
      'unsettled events; each keeps an exact-size copy of its record for a later dead letter).',
    '',
    '**5. Ledger restore**, against a raw kafkajs consumer (no-op eachBatch) reading the same compacted ' +
      `ledger topic (${n(rs.records)} records, zstd, ${rs.partitions} partitions). Each from before ` +
      'its consumer joins its group until the last record was read (the restore: decoded and indexed). ' +
      `The two alternate, each in a fresh process, for ${n(rs.rounds)} round${rs.rounds === 1 ? '' : 's'}: ` +
      "each side's fastest round is shown, with its CPU, and each side's highest peak RSS. The restore's " +
      "kafkajs decodes records with the service's decoder (src/kafka/record-decoding.ts, as the service " +
      "installs it); the raw consumer keeps kafkajs's own.",
    '',
    '| Records | Raw kafkajs records/s | Restore records/s | Restore ÷ raw | CPU s, ' +
      'raw / restore | Peak RSS MB, raw / restore | Index bytes per entry |',
    '|--:|--:|--:|--:|--:|--:|--:|',
    `| ${n(rs.records)} | ${n(rs.raw.recordsPerSecond)} | ${n(rs.restore.recordsPerSecond)} | ` +
      `**${f(rs.speedRatio, 3)}** | ${f(rs.raw.cpuSeconds, 1)} / ${f(rs.restore.cpuSeconds, 1)} ` +
      `| ${n(rs.raw.peakRssMb)} / ${n(rs.restore.peakRssMb)} | ${f(rs.restore.indexBytesPerEntry, 1)} |`,
    '',
    ...multiListSection(r.multiList),
  ];
  return lines.join('\n');
}
