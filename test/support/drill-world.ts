import { createServer } from 'node:net';
import { Partitioners, type Admin } from 'kafkajs';
import type { SimulatorOptionsInput } from '../../packages/ac-simulator/src/index.js';
import { writeConfig, type CliProcess } from './cli.js';
import { DrillOracle, describeReport, pairOf, type DrillReport } from './drill-oracle.js';
import { eventually, type Simulator, type TopicReader } from './harness.js';
import { world, type World, type WorldOptions } from './world.js';

/**
 * One drill's world, built on the test world (world.ts): a fresh source topic on the real broker, the world's
 * simulator (in this process, driven over its HTTP control routes as any outside tool would), a config file for
 * the real CLI, the services it started, and the awaited end conditions. The world stops what a drill started
 * when its test ends.
 */
export interface DrillOptions {
  name: string;
  partitions: number;
  /** Overrides of the config file (rawConfig's defaults otherwise). */
  config?: Record<string, unknown>;
}

/**
 * The file's world for drills: one list per segment, named after it ("1", "2", … in order). `kafka`: the world's
 * client on a broker of the file's own (WorldOptions.kafka).
 */
export function drillWorld(segments: string[], simulator: SimulatorOptionsInput, kafka?: WorldOptions['kafka']): World {
  return world({
    segments,
    simulator: { ...simulator, lists: segments.map((s, i) => ({ id: String(i + 1), name: s })) },
    ...(kafka ? { kafka } : {}),
  });
}

export interface Running {
  child: CliProcess;
  /** The /metrics port this instance serves on. */
  port: number;
}

/**
 * How long after a person's own action the service may act on the same membership. Issue 13's window for "this
 * unsubscribe is ours" starts 5 s before the service's intent (clock skew between ActiveCampaign and the
 * service), and ActiveCampaign dates have whole seconds: a person's unsubscribe closer to the service's own than
 * that cannot be told from it, by design. The drills' people act outside it, as people do.
 */
export const OWN_ACTION_GAP_MS = 6_500;

/** A port free right now (the CLI is given it, so no log line has to be parsed to find it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export class DrillWorld {
  readonly groupId: string;
  readonly listOf: Map<string, string>;
  /** Pairs (pairOf) whose person unsubscribed themselves → the occurredAt after which that holds. */
  readonly optedOut = new Map<string, number>();
  private readonly running: Running[] = [];
  /** No service starts before this (epoch ms): the seeded people's own unsubscribes are OWN_ACTION_GAP_MS older. */
  private notBefore = 0;
  private source: TopicReader | undefined;
  private dlq: TopicReader | undefined;

  private constructor(
    readonly w: World,
    readonly o: DrillOptions,
    readonly topic: string,
  ) {
    this.groupId = `${topic}-g`;
    this.listOf = new Map(w.segments.map((s, i) => [s, String(i + 1)]));
  }

  /** A drill on a fresh topic of `o.partitions` partitions (call inside the test). */
  static async create(w: World, o: DrillOptions): Promise<DrillWorld> {
    return new DrillWorld(w, o, await w.topic(o.name, o.partitions));
  }

  get admin(): Admin {
    return this.w.admin;
  }

  get sim(): Simulator {
    return this.w.sim;
  }

  /** A config file for one instance; `port` is its /metrics port. */
  configFile(port: number, overrides: Record<string, unknown> = {}): string {
    const base = this.w.rawConfig(this.topic, {
      buffer: { lingerMs: 200 },
      log: { level: 'info' },
      ...this.o.config,
      ...overrides,
    });
    return writeConfig({ ...base, http: { host: '127.0.0.1', port } });
  }

  /**
   * Starts `run` as a child process, with extra environment (the crash points). Does not wait for start-up; the
   * first start waits until seeded opt-outs are OWN_ACTION_GAP_MS old.
   */
  async start(env: NodeJS.ProcessEnv = {}, overrides: Record<string, unknown> = {}): Promise<Running> {
    if (Date.now() < this.notBefore)
      await eventually(
        () => Date.now() >= this.notBefore,
        "the seeded opt-outs to be older than the service's window",
        OWN_ACTION_GAP_MS + 5_000,
        100,
      );
    const port = await freePort();
    const child = this.w.cli(['run', '--config', this.configFile(port, overrides)], env);
    const running = { child, port };
    this.running.push(running);
    return running;
  }

  /** Writes records to the source topic with one producer kept for the world (a trickle writes often). */
  async produce(records: { key: string; value: string }[]): Promise<void> {
    const producer = await this.w.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    for (let i = 0; i < records.length; i += 2_000)
      await producer.send({ topic: this.topic, messages: records.slice(i, i + 2_000) });
  }

  /** Waits until the instance answers /readyz with 200 (or fails when it exits first). */
  async ready(r: Running, timeoutMs = 60_000): Promise<void> {
    let exited = false;
    void r.child.exited.then(() => (exited = true));
    await eventually(
      async () => {
        if (exited)
          throw new Error(`the instance exited before it was ready:\n${r.child.stderr.slice(-10).join('\n')}`);
        return fetch(`http://127.0.0.1:${r.port}/readyz`).then(
          (res) => res.status === 200,
          () => false,
        );
      },
      `the instance on port ${r.port} to be ready`,
      timeoutMs,
      100,
    );
  }

  /** A metric of a running instance, summed over its labels (NaN when it cannot be scraped). */
  async metric(r: Running, name: string): Promise<number> {
    const text = await fetch(`http://127.0.0.1:${r.port}/metrics`).then(
      (res) => res.text(),
      () => undefined,
    );
    if (text === undefined) return NaN;
    let n = 0;
    for (const line of text.split('\n'))
      if (line.startsWith(`${name}{`) || line.startsWith(`${name} `))
        n += Number(line.slice(line.lastIndexOf(' ') + 1));
    return n;
  }

  /** POST to a simulator control route; throws with the route's answer unless it is 2xx. */
  async control(path: string, body: unknown): Promise<unknown> {
    const res = await fetch(`${this.sim.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`POST ${path} answered ${res.status}: ${text}`);
    return text ? (JSON.parse(text) as unknown) : undefined;
  }

  /** Seeds contacts who unsubscribed themselves from a list before the run (POST /__sim/contacts). */
  async seedOptedOut(pairs: ReadonlyArray<{ email: string; listId: string }>): Promise<void> {
    const byEmail = new Map<string, Record<string, 2>>();
    for (const { email, listId } of pairs) byEmail.set(email, { ...byEmail.get(email), [listId]: 2 });
    for (const [email, lists] of byEmail) await this.control('/__sim/contacts', { email, lists });
    for (const { email, listId } of pairs) this.optedOut.set(pairOf(listId, email), -Infinity);
    this.notBefore = Date.now() + OWN_ACTION_GAP_MS;
  }

  /**
   * A person's own action in ActiveCampaign (POST /__sim/membership): a form subscribe or their own unsubscribe.
   * Until the simulator has that route (404), the same effect through POST /__sim/contacts, whose list statuses
   * are the contact's own; returns which route was used so a drill can say so.
   */
  async personAction(
    email: string,
    listId: string,
    status: 1 | 2,
    source: 'form' | 'person',
  ): Promise<'membership' | 'contacts'> {
    try {
      await this.control('/__sim/membership', { email, list: listId, status, source });
      return 'membership';
    } catch (err) {
      if (!/answered 404/.test((err as Error).message)) throw err;
      await this.control('/__sim/contacts', { email, lists: { [listId]: status } });
      return 'contacts';
    }
  }

  caughtUp(): Promise<boolean> {
    return this.w.caughtUp(this.w.config(this.topic), this.topic);
  }

  simIdle(): boolean {
    return this.sim.snapshot().imports.outstanding === 0;
  }

  /** The group's committed offsets summed over partitions (0 for none yet). */
  async committedTotal(): Promise<number> {
    const [committed] = await this.admin.fetchOffsets({ groupId: this.groupId, topics: [this.topic] });
    return (committed?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
  }

  /** Committed offsets against end offsets, per partition, for messages. */
  async progress(): Promise<string> {
    const ends = await this.admin.fetchTopicOffsets(this.topic);
    const [committed] = await this.admin.fetchOffsets({ groupId: this.groupId, topics: [this.topic] });
    const parts = ends.map(
      (e) =>
        `${e.partition}: ${committed?.partitions.find((p) => p.partition === e.partition)?.offset ?? '-'}/${e.high}`,
    );
    return `committed/end ${parts.join(', ')}; simulator imports outstanding ${this.sim.snapshot().imports.outstanding}`;
  }

  /**
   * Waits until the group's committed offsets are at the end offsets and the simulator has no import left to
   * apply. On the deadline it fails with the progress, the oracle's first mismatches and the services' last log.
   */
  async settled(what: string, timeoutMs = 150_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if ((await this.caughtUp()) && this.simIdle()) return;
      if (Date.now() > deadline) {
        const lines = [`timed out after ${timeoutMs} ms waiting for ${what} (${await this.progress()})`];
        try {
          lines.push(describeReport('state at the deadline', await this.verify(), 4));
        } catch (err) {
          lines.push(`(the oracle could not run: ${(err as Error).message})`);
        }
        for (const r of this.running)
          lines.push(`last log of instance on port ${r.port}:`, ...r.child.stderr.slice(-5));
        throw new Error(lines.join('\n'));
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Reads the source and dead-letter topics to their end offsets and runs the oracle against the simulator. */
  async verify(): Promise<DrillReport> {
    const oracle = await this.oracle();
    const dlqTopic = `${this.topic}.dlq`;
    // The service creates the dead-letter topic when it starts; a reader must not create it first.
    if (!this.dlq && (await this.admin.listTopics()).includes(dlqTopic)) this.dlq = await this.w.reader(dlqTopic);
    if (this.dlq) await this.w.drained(this.dlq, dlqTopic, 60_000);
    return oracle.check(this.sim.snapshot(), this.dlq?.records ?? []);
  }

  /** The oracle over the source records as they are on the topic now. */
  async oracle(): Promise<DrillOracle> {
    this.source ??= await this.w.reader(this.topic);
    await this.w.drained(this.source, this.topic, 60_000);
    return new DrillOracle(this.topic, this.source.records, this.listOf, this.optedOut);
  }
}
