import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { startLocalBroker } from '../src/dev/local-broker.js';
import { Bench } from './harness.js';
import { round } from './measure.js';
import { parseBenchOptions, USAGE, type BenchOptions } from './options.js';
import { apiCeiling } from './phases/api.js';
import { trickleLatency } from './phases/latency.js';
import { multiListCeiling } from './phases/multi.js';
import { outageMemory } from './phases/outage.js';
import { pipelineCeiling } from './phases/pipeline.js';
import { ledgerRestore } from './phases/restore.js';
import { renderMarkdown } from './report.js';
import { outcomeProblems, resultProblems, type BenchResults } from './results.js';
import { MULTI_SEGMENTS } from './workload.js';
import '../src/kafka/codecs.js';

/**
 * `npm run bench`: the measurements of issues #7 and #17 in one run, each against its reference measured in the same
 * run (the raw kafkajs reader; ActiveCampaign's theoretical minimum), then <out>/latest.json and latest.md.
 * Steps run one after another, each in fresh processes, on topics of their own that are deleted afterwards.
 * Exit 0 with well-formed results and right outcomes; 1 when a step failed or did the wrong thing; 2 for bad flags.
 */
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const say = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseBenchOptions(process.argv.slice(2), process.env, join(REPO, 'bench', 'results'));
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const started = new Date();
  const loadAverageStart = loadavg();
  let brokers = process.env.KAFKA_BROKERS;
  if (!brokers) {
    say('Starting the local Kafka broker (KAFKA_BROKERS is not set)…');
    brokers = (await startLocalBroker()).brokers;
  }
  mkdirSync(options.out, { recursive: true });
  const admin = new Kafka({ clientId: 'bench-admin', brokers: brokers.split(','), logLevel: logLevel.ERROR }).admin();
  await admin.connect();
  const bench = new Bench(brokers.split(','), admin, options, `${started.getTime().toString(36)}`, say);
  try {
    say(
      `Benchmark on ${brokers}${options.smoke ? ' (smoke sizes)' : ''}; ` +
        `load average ${loadAverageStart.map((l) => l.toFixed(2)).join(' ')}`,
    );
    say(`1. Pipeline ceiling, JSON (${options.jsonEvents.toLocaleString('en')} events)`);
    const json = await pipelineCeiling(bench, 'json', options.jsonEvents);
    say(`1. Pipeline ceiling, Avro (${options.avroEvents.toLocaleString('en')} events)`);
    const avro = await pipelineCeiling(bench, 'avro', options.avroEvents);
    say(`2. API ceiling (${options.apiContacts.toLocaleString('en')} contacts)`);
    const api = await apiCeiling(bench, options.apiContacts, json.service.eventsPerSecond, options.apiTimeScale, {
      limiter: options.apiLimiter,
      latency: options.apiLatency,
    });
    say(`3. Latency (${options.trickleRate} events/s for ${options.trickleSeconds} s)`);
    const latency = await trickleLatency(bench, options.trickleRate, options.trickleSeconds);
    say(`4. Memory during an outage (${options.outageEvents.toLocaleString('en')} events)`);
    const outage = await outageMemory(bench, options.outageEvents);
    say(`5. Ledger restore (${options.ledgerRecords.toLocaleString('en')} records)`);
    const restore = await ledgerRestore(bench, options.ledgerRecords);
    say(
      `6. Beyond the single-list ceiling (${options.multiContacts.toLocaleString('en')} ` +
        `contacts × ${MULTI_SEGMENTS.length} lists)`,
    );
    const multiList = await multiListCeiling(
      bench,
      options.multiContacts,
      json.service.eventsPerSecond,
      options.multiTimeScale,
    );

    const finished = new Date();
    const results: BenchResults = {
      version: 1,
      smoke: options.smoke,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationSeconds: round((finished.getTime() - started.getTime()) / 1000, 1),
      machine: {
        cpus: cpus().length,
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
        commit: commit(),
        loadAverageStart: loadAverageStart.map((l) => round(l)),
        loadAverageEnd: loadavg().map((l) => round(l)),
      },
      options: { ...options },
      pipeline: { json, avro },
      api,
      latency,
      memory: { apiCeilingPeakRssMb: api.peakRssMb, outage },
      restore,
      multiList,
    };
    const problems = resultProblems(results);
    const markdown = renderMarkdown(results);
    writeFileSync(join(options.out, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(options.out, 'latest.md'), markdown);
    say('');
    say(markdown);
    say(`Results: ${join(options.out, 'latest.json')} and latest.md`);
    if (problems.length) {
      process.stderr.write(`bench: the results are not well formed:\n  ${problems.join('\n  ')}\n`);
      return 1;
    }
    const wrong = outcomeProblems(results);
    if (wrong.length) {
      process.stderr.write(`bench: fast or not, a run did the wrong thing:\n  ${wrong.join('\n  ')}\n`);
      return 1;
    }
    return 0;
  } finally {
    await bench.cleanUp();
    await admin.disconnect();
  }
}

function commit(): string {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], {
      cwd: REPO,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return '';
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  },
);
