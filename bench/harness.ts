import { join } from 'node:path';
import type { Admin } from 'kafkajs';
import { startRole, type Role } from './ipc.js';
import type { BenchOptions } from './options.js';
import { deadLetterDifferences, type DeadLetterCounts, type MembershipCheck } from './outcome.js';
import type { OutcomeResult } from './results.js';
import type { ProducerInit, ProducerResult } from './roles/producer.js';
import type { RawInit } from './roles/raw-consumer.js';
import type { ServiceInit } from './roles/service.js';
import type { SimulatorInit, SimulatorReady } from './roles/simulator.js';
import { listOf, SEGMENTS, type Workload, type WorkloadStats } from './workload.js';

/**
 * The service runs with the heap Node gives it in a container with a 512 MiB memory limit: V8 sizes its old space
 * from the memory it may use, a quarter of it times 2 on 64-bit, so 256 MiB. On this 24 GB machine it would allow
 * 4 GB and collect lazily, and peak RSS would measure garbage not yet collected rather than what the service needs.
 * BENCH_SERVICE_OLD_SPACE_MB=0 runs it with V8's own limit (to see what the smaller heap costs in collection).
 */
export const SERVICE_OLD_SPACE_MB = Number(process.env.BENCH_SERVICE_OLD_SPACE_MB ?? 256);

/** The slices `produce` writes in parallel: `count` (events; contacts for `multi`) split as evenly as can be. */
export function workloadSlices(kind: Workload['kind'], count: number, slices: number): Workload[] {
  const sizes = Array.from(
    { length: slices },
    (_, i) => Math.floor(count / slices) + (i < count % slices ? 1 : 0),
  ).filter((n) => n > 0);
  const froms = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
  return sizes.map((n, slice) => ({ kind, count: n, slice, slices: sizes.length, from: froms[slice]! }));
}

/** What every step of the benchmark shares: the broker, the options, and the topics and groups to remove. */
export class Bench {
  private readonly topics: string[] = [];
  private readonly groups: string[] = [];
  private counter = 0;

  constructor(
    readonly brokers: string[],
    readonly admin: Admin,
    readonly options: BenchOptions,
    readonly runId: string,
    readonly say: (line: string) => void,
  ) {}

  name(what: string): string {
    return `bench-${this.runId}-${what}-${this.counter++}`;
  }

  group(topic: string, who: string): string {
    const id = `${topic}-${who}`;
    this.groups.push(id);
    return id;
  }

  logFile(what: string): string {
    return join(this.options.out, 'logs', `${this.runId}-${what}.log`);
  }

  async createTopic(what: string, configEntries: Record<string, string> = {}): Promise<string> {
    const topic = this.name(what);
    await this.admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic,
          numPartitions: this.options.partitions,
          replicationFactor: 1,
          configEntries: Object.entries(configEntries).map(([name, value]) => ({ name, value })),
        },
      ],
    });
    this.topics.push(topic);
    return topic;
  }

  /**
   * Fills `topic` with `slices` producers in parallel (workloadSlices); returns the summed counts and the wall time.
   */
  async produce(
    topic: string,
    kind: Workload['kind'],
    events: number,
    slices: number,
    extra: Partial<ProducerInit> = {},
  ): Promise<ProducerResult> {
    const producers = await Promise.all(
      workloadSlices(kind, events, slices).map((workload) =>
        startRole<unknown>('producer', {
          brokers: this.brokers,
          topic,
          encoding: 'json',
          ...extra,
          workload,
        } satisfies ProducerInit),
      ),
    );
    try {
      const started = performance.now();
      const results = await Promise.all(producers.map((p) => p.call<ProducerResult>('run')));
      const stats: WorkloadStats = { events: 0, repeats: 0, removes: 0 };
      for (const r of results) {
        stats.events += r.stats.events;
        stats.repeats += r.stats.repeats;
        stats.removes += r.stats.removes;
      }
      return {
        produced: results.reduce((n, r) => n + r.produced, 0),
        seconds: (performance.now() - started) / 1000,
        stats,
      };
    } finally {
      await Promise.all(producers.map((p) => p.close()));
    }
  }

  /** The baseline reader of step 1, in its own process. */
  /** A raw consumer reading `topic` from its beginning: `round` names a group of its own for each read of a topic. */
  rawConsumer(topic: string, expected: number, fromConnect = false, round = 0): Promise<Role<unknown>> {
    return startRole<unknown>('raw-consumer', {
      brokers: this.brokers,
      topic,
      groupId: this.group(topic, round ? `raw-${round}` : 'raw'),
      expected,
      fromConnect,
    } satisfies RawInit);
  }

  simulator(init: SimulatorInit): Promise<Role<SimulatorReady>> {
    return startRole<SimulatorReady>('simulator', init);
  }

  /** The service in its own process, configured for `topic` and the simulator (five exports, lists 1..5). */
  service(
    what: string,
    topic: string,
    sim: SimulatorReady,
    o: { timeScale: number; registry?: boolean; recordLatency?: boolean; lookupsPerSecond?: number },
  ): Promise<Role<unknown>> {
    const config = this.serviceConfig(topic, sim, o);
    return startRole<unknown>(
      'service',
      { config, logFile: this.logFile(what), recordLatency: o.recordLatency ?? false } satisfies ServiceInit,
      SERVICE_OLD_SPACE_MB > 0 ? [`--max-old-space-size=${SERVICE_OLD_SPACE_MB}`] : [],
    );
  }

  /** The raw config of the service for `topic` (the service parses it with its own schema, defaults included). */
  serviceConfig(
    topic: string,
    sim: SimulatorReady,
    o: { timeScale: number; registry?: boolean; lookupsPerSecond?: number },
  ) {
    return {
      kafka: { brokers: this.brokers, topics: [topic], groupId: this.group(topic, 'sync'), clientId: 'bench-service' },
      connections: { main: { apiUrl: sim.url, apiKey: { value: sim.apiToken }, privacyAcknowledged: true } },
      exports: SEGMENTS.map((segmentId) => ({
        name: segmentId,
        segmentId,
        connection: 'main',
        listId: listOf(segmentId),
      })),
      // At time scale 1000 the default confirmation deadline (600 s) is 0.6 s of real time: a starved simulator or a
      // collection pause on a loaded machine would turn into resubmitted imports and IMPORT_FAILED dead letters, and
      // the pipeline step would measure that instead. A deadline of at least a real minute keeps it out.
      delivery: {
        timeScale: o.timeScale,
        confirmTimeoutMs: Math.min(86_400_000, Math.max(600_000, 60_000 * o.timeScale)),
        ...(o.lookupsPerSecond !== undefined ? { profileLookupsPerSecond: o.lookupsPerSecond } : {}),
      },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'info', format: 'json' },
      ...(o.registry && sim.registryUrl ? { schemaRegistry: { url: sim.registryUrl } } : {}),
    };
  }

  /**
   * A step's outcome (bench/outcome.ts): the simulator's members against the newest event of the `slices` written,
   * and `deadLetters` (the service's, asked before it stopped) against `expected`. Says what is wrong, if anything.
   */
  async outcome(
    sim: Role<unknown>,
    slices: readonly Workload[],
    deadLetters: DeadLetterCounts,
    expected: DeadLetterCounts = {},
  ): Promise<OutcomeResult> {
    const m = await sim.call<MembershipCheck>('membership', slices);
    const wrong = deadLetterDifferences(deadLetters, expected);
    if (m.differences || wrong.length) {
      this.say(
        `  WRONG: ${m.differences} of ${m.checked.toLocaleString('en')} (list, email) ` +
          `memberships differ from the newest event${m.examples.length ? ` (${m.examples.join('; ')})` : ''}; ` +
          `dead letters: ${wrong.join(', ') || 'as expected'}`,
      );
    }
    return {
      checked: m.checked,
      membershipDifferences: m.differences,
      examples: m.examples,
      deadLetters,
      expectedDeadLetters: expected,
      ok: m.differences === 0 && wrong.length === 0,
    };
  }

  /** Deletes this run's topics (with those the service created beside them: `<topic>.dlq`, …) and consumer groups. */
  async cleanUp(): Promise<void> {
    const existing = await this.admin.listTopics().catch(() => [] as string[]);
    const topics = existing.filter((t) => this.topics.some((own) => t === own || t.startsWith(`${own}.`)));
    if (topics.length)
      await this.admin
        .deleteTopics({ topics })
        .catch((err: unknown) => this.say(`Could not delete the benchmark topics: ${String(err)}`));
    if (this.groups.length) await this.admin.deleteGroups(this.groups).catch(() => undefined);
    this.topics.length = 0;
    this.groups.length = 0;
  }
}
