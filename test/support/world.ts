import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach } from 'node:test';
import type { Admin, Kafka, Producer, ProducerConfig } from 'kafkajs';
import type { SimulatorOptionsInput } from '../../packages/ac-simulator/src/index.js';
import type { Config } from '../../src/config/schema.js';
import type { ServiceOptions } from '../../src/service.js';
import { membershipDiff, type SampleEvent } from '../../src/dev/sample/events.js';
import {
  createTopic,
  eventually,
  kafka,
  offsetsCaughtUp,
  produce,
  produceSample,
  quietLog,
  rawConfig,
  readTopic,
  startService,
  startSimulator,
  testConfig,
  uniqueTopic,
  type ReadRecord,
  type Service,
  type Simulator,
  type TopicReader,
} from './harness.js';
import { runCli, waitForLog, writeConfig, type CliProcess } from './cli.js';

/**
 * One integration test file's world. `world()` is called at the top of the file and registers its own hooks:
 * before the first test it connects an admin client and starts the simulator (one list per segment, "1", "2", …);
 * after each test it stops what that test started (services, readers, extra simulators), newest first; after the
 * last test it stops what the hooks started. A test asks it for topics, configs, services and readers, and awaits
 * conditions on it instead of writing try/finally blocks and polls of its own.
 */
export interface WorldOptions {
  /** Segments with an export, in order: list ids "1", "2", … (the simulator gets one list per segment). */
  segments?: string[];
  /** The simulator's options (its lists default to one per segment); `false`: no simulator. */
  simulator?: SimulatorOptionsInput | false;
  /** A fresh simulator for each test instead of one for the file (tests whose streams share emails). */
  simulatorPerTest?: boolean;
  /**
   * The client of the world's admin and producer (harness.ts's kafka() unless given): a file against another
   * broker, such as the secured one's PLAINTEXT set-up listener, creates its topics and input there. Called once,
   * before the first test; it may start that broker first (and w.defer() its stop).
   */
  kafka?: () => Kafka | Promise<Kafka>;
  /** A reason the file's tests are skipped (its broker or registry is absent): the world then starts nothing. */
  skip?: string | false;
}

export type Expected = Map<string, Map<string, 'add' | 'remove'>>;

/** What the last event per (segment, email) implies, for membership(). */
export function expectedOf(events: SampleEvent[]): Expected {
  const expected: Expected = new Map();
  for (const { value } of events) {
    const seg = expected.get(value.segmentId) ?? new Map<string, 'add' | 'remove'>();
    seg.set(value.profile.email, value.op);
    expected.set(value.segmentId, seg);
  }
  return expected;
}

export class World {
  readonly segments: string[];
  private admin_: Admin | undefined;
  private sim_: Simulator | undefined;
  /** Cleanups of the running test, and of the file (what the world or a w.before() step started). */
  private readonly perTest: (() => Promise<unknown>)[] = [];
  private readonly perFile: (() => Promise<unknown>)[] = [];
  private inTest = false;
  private readonly setUps: (() => Promise<unknown>)[] = [];
  private producer_: Promise<Producer> | undefined;
  private client_: Kafka | undefined;

  constructor(private readonly o: WorldOptions) {
    this.segments = o.segments ?? [];
  }

  /** An admin client, connected before the first test. */
  get admin(): Admin {
    if (!this.admin_) throw new Error('the world starts in its before hook: use it inside a test or a w.before() step');
    return this.admin_;
  }

  /** The file's simulator. */
  get sim(): Simulator {
    if (!this.sim_)
      throw new Error(
        this.o.simulator === false
          ? 'this world has no simulator'
          : 'the world starts in its before hook: use it inside a test or a w.before() step',
      );
    return this.sim_;
  }

  /** The list id of a segment ("1" for the first). */
  listOf = (segment: string): string => String(this.segments.indexOf(segment) + 1);

  /**
   * A set-up step of the file's own, run once the world has started (what it starts is stopped after the last
   * test). Use it instead of node:test's before(): Node 20 does not wait for one root before() hook to finish
   * before it starts the next.
   */
  before(step: () => Promise<unknown>): void {
    this.setUps.push(step);
  }

  /** Runs `cleanup` when the current test ends (or, outside a test, after the last one). */
  defer(cleanup: () => Promise<unknown>): void {
    (this.inTest ? this.perTest : this.perFile).push(cleanup);
  }

  /**
   * A fresh topic name, created on the broker with `partitions` partitions. With a `suffix`, only the derived
   * topic `<name><suffix>` is created (a `.dlq` a writer under test writes to) and the base name returned.
   */
  async topic(name: string, partitions = 1, suffix = ''): Promise<string> {
    const topic = uniqueTopic(name);
    await createTopic(this.admin, `${topic}${suffix}`, partitions);
    return topic;
  }

  /** The config of one service on `topic` against the file's simulator (harness.ts's builder, parsed). */
  config(topic: string, overrides: Record<string, unknown> = {}, segments = this.segments): Config {
    return testConfig(topic, this.sim, segments, overrides);
  }

  /** A `connections` override: the file's simulator as connection main, with `extra` settings (a replayShare). */
  connections(extra: Record<string, unknown>): Record<string, unknown> {
    const main = { apiUrl: this.sim.url, apiKey: { value: this.sim.options.apiToken }, privacyAcknowledged: true };
    return { main: { ...main, ...extra } };
  }

  /** rawConfig with `kafka` laid over its kafka section (brokers, ssl, sasl of another broker), written to a file. */
  configFileWith(topic: string, kafka: Record<string, unknown>, overrides: Record<string, unknown> = {}): string {
    const base = this.rawConfig(topic, overrides);
    return writeConfig({ ...base, kafka: { ...(base.kafka as Record<string, unknown>), ...kafka } });
  }

  /** The same config as a file's content, not parsed (for the CLI, or to write a file that is wrong on purpose). */
  rawConfig(topic: string, overrides: Record<string, unknown> = {}, segments = this.segments): Record<string, unknown> {
    return rawConfig(topic, this.sim, segments, overrides);
  }

  /** rawConfig written to a fresh temporary file; returns its path. */
  configFile(topic: string, overrides: Record<string, unknown> = {}, segments = this.segments): string {
    return writeConfig(this.rawConfig(topic, overrides, segments));
  }

  /**
   * Starts a service (quiet log unless given one); it is stopped when the test ends, given up on after
   * `stopWithinMs` if given (a stop that needs a broker a failed test left down).
   */
  async start(config: Config, opts: ServiceOptions = {}, stopWithinMs?: number): Promise<Service> {
    const service = await startService(config, { log: quietLog(), ...opts });
    this.defer(() =>
      stopWithinMs === undefined
        ? service.stop()
        : Promise.race([
            service.stop().catch(() => undefined),
            new Promise((r) => setTimeout(r, stopWithinMs).unref()),
          ]),
    );
    return service;
  }

  /** `start(config(topic, overrides))`. */
  service(topic: string, overrides: Record<string, unknown> = {}, opts: ServiceOptions = {}): Promise<Service> {
    return this.start(this.config(topic, overrides), opts);
  }

  /** Another simulator, stopped when the test ends. */
  async simulator(options: SimulatorOptionsInput): Promise<Simulator> {
    const sim = await startSimulator(options);
    this.defer(() => sim.close());
    return sim;
  }

  /**
   * A connected producer of the file's (for records sent one by one, to a partition given, or a writer under
   * test); the first call's config holds for the file. Disconnected after the last test.
   */
  producer(config: ProducerConfig = {}): Promise<Producer> {
    return (this.producer_ ??= (async () => {
      const producer = this.client().producer(config);
      await producer.connect();
      this.perFile.push(() => producer.disconnect());
      return producer;
    })());
  }

  produce = produce;
  produceSample = produceSample;

  /** A live reader of `topic` from its beginning, stopped when the test ends. */
  async reader(topic: string): Promise<TopicReader> {
    const reader = await readTopic(topic);
    this.defer(() => reader.stop());
    return reader;
  }

  /** Awaits a live reader holding every record its topic has now. */
  async drained(reader: TopicReader, topic: string, timeoutMs?: number): Promise<void> {
    const ends = await this.admin.fetchTopicOffsets(topic);
    const total = ends.reduce((n, p) => n + Number(p.high), 0);
    await eventually(
      () => reader.records.length >= total,
      `the ${topic} reader to reach ${total} records`,
      timeoutMs,
      100,
    );
  }

  /** The CLI as a child process (test/support/cli.ts), SIGKILLed when the test ends if still running. */
  cli(args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
    const child = runCli(args, env);
    this.defer(() => child.kill());
    return child;
  }

  /** `run --config <file>` as a child, once it logged that the sync is running; `port` is its /metrics port. */
  async run(configFile: string, env: NodeJS.ProcessEnv = {}): Promise<{ child: CliProcess; port: number }> {
    const child = this.cli(['run', '--config', configFile], env);
    await waitForLog(child, 'The sync is running');
    const serving = child.stderr
      .map((l) => (l.startsWith('{') ? (JSON.parse(l) as { msg?: string; port?: number }) : {}))
      .find((l) => l.msg?.startsWith('Serving /metrics'));
    assert.ok(serving?.port, 'the CLI logs its metrics port');
    return { child, port: serving.port };
  }

  /** Reads `topic` from its beginning until `count` records arrived. */
  read(topic: string, count: number, timeoutMs?: number): Promise<ReadRecord[]> {
    return readTopic(topic, count, timeoutMs);
  }

  /** The first `count` dead letters of a source topic (from `<topic>.dlq`). */
  deadLetters(topic: string, count: number, timeoutMs?: number): Promise<ReadRecord[]> {
    return readTopic(`${topic}.dlq`, count, timeoutMs);
  }

  /** Awaits `check`: fails naming `what` after the deadline. */
  until(check: () => boolean | Promise<boolean>, what: string, timeoutMs?: number, everyMs?: number): Promise<void> {
    return eventually(check, what, timeoutMs, everyMs);
  }

  /** Whether the committed offsets of a service's group (or a config's) on its first topic (or `topic`) are at the topic's end. */
  caughtUp(of: Service | Config, topic?: string): Promise<boolean> {
    const [group, on] = groupAndTopic(of, topic);
    return offsetsCaughtUp(this.admin, group, on);
  }

  /** Awaits caughtUp(of, topic); fails naming `what` after the deadline. */
  committed(of: Service | Config, what?: string, timeoutMs?: number, topic?: string): Promise<void> {
    const [group, on] = groupAndTopic(of, topic);
    return eventually(
      () => offsetsCaughtUp(this.admin, group, on),
      what ?? `the committed offsets of ${group} to reach the end of ${on}`,
      timeoutMs,
    );
  }

  /** Awaits a service having settled everything it consumed, and its commits reaching the end of `topic`. */
  async settled(service: Service, what?: string, timeoutMs?: number, topic?: string): Promise<void> {
    await this.committed(service, what, timeoutMs, topic);
    await eventually(() => service.pending() === 0, 'every consumed event to settle', timeoutMs);
  }

  /**
   * Awaits the simulator's lists holding what the last event per (segment, contact) implies (the file's simulator
   * and segments unless given others). With `detail`, a timeout names the differences and appends detail()
   * (a child's last log lines, say).
   */
  async membership(
    expected: Expected,
    what = 'simulator membership to match the events',
    o: { timeoutMs?: number; everyMs?: number; sim?: Simulator; segments?: string[]; detail?: () => string } = {},
  ): Promise<void> {
    const sim = o.sim ?? this.sim;
    const segments = o.segments ?? this.segments;
    const listOf = (s: string) => String(segments.indexOf(s) + 1);
    const diff = () => membershipDiff(expected, listOf, (id) => sim.snapshot().lists[id]?.members ?? {});
    try {
      await eventually(() => diff().length === 0, what, o.timeoutMs, o.everyMs);
    } catch (err) {
      if (!o.detail) throw err;
      const d = diff();
      const first = d.slice(0, 3).join('; ');
      throw new Error(`${(err as Error).message}\n${d.length} differences, first: ${first}\n${o.detail()}`);
    }
  }

  private client(): Kafka {
    if (!this.client_)
      throw new Error('the world starts in its before hook: use it inside a test or a w.before() step');
    return this.client_;
  }

  /** @internal the hooks */
  async setUp(): Promise<void> {
    if (this.o.skip) return;
    this.client_ = await (this.o.kafka ?? kafka)();
    const admin = this.client_.admin();
    await admin.connect();
    this.admin_ = admin;
    this.perFile.push(() => admin.disconnect());
    if (this.o.simulator !== false && !this.o.simulatorPerTest) this.sim_ = await this.startOwnSimulator(this.perFile);
    for (const step of this.setUps) await step();
  }

  private async startOwnSimulator(cleanups: (() => Promise<unknown>)[]): Promise<Simulator> {
    const sim = await startSimulator({
      lists: this.segments.map((_, i) => ({ id: String(i + 1), name: `L${i + 1}` })),
      ...(this.o.simulator || {}),
    });
    cleanups.push(() => sim.close());
    return sim;
  }

  /** @internal */
  async enterTest(): Promise<void> {
    this.inTest = true;
    if (this.o.skip) return;
    if (this.o.simulator !== false && this.o.simulatorPerTest) this.sim_ = await this.startOwnSimulator(this.perTest);
  }

  /** @internal stops what the test started, newest first; each step on its own, the first failure rethrown. */
  async leaveTest(): Promise<void> {
    this.inTest = false;
    await runAll(this.perTest);
  }

  /** @internal */
  async tearDown(): Promise<void> {
    await runAll(this.perTest);
    await runAll(this.perFile);
  }
}

function groupAndTopic(of: Service | Config, topic: string | undefined): [string, string] {
  const config = 'kafka' in of ? of : of.config;
  return [config.kafka.groupId, topic ?? config.kafka.topics[0]!];
}

async function runAll(cleanups: (() => Promise<unknown>)[]): Promise<void> {
  let first: unknown;
  while (cleanups.length) {
    try {
      await cleanups.pop()!();
    } catch (err) {
      first ??= err;
    }
  }
  if (first) throw first;
}

/** The file's world; call once, at the top of a test file. */
export function world(o: WorldOptions = {}): World {
  const w = new World(o);
  before(() => w.setUp());
  beforeEach(() => w.enterTest());
  afterEach(() => w.leaveTest());
  after(() => w.tearDown());
  return w;
}
