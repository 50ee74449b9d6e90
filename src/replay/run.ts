import type { Admin } from 'kafkajs';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { SyncError } from '../domain/errors.js';
import { tpKey } from '../ingest/source.js';
import { createKafka } from '../kafka/client.js';
import { startService, type Service, type ServiceOptions } from '../service.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { replayGroup, type From } from './from.js';
import { endOffsets, joinLost, lostToRetention, progressOf, replayConfig, type PartitionRange } from './plan.js';
import { planRanges, setStartOffsets } from './positions.js';
import type { ProgressReporter } from './progress.js';
import { countsFromMetrics, DeliveredByList, exitCodeOf, type ReplaySummary } from './summary.js';

export interface ReplayOptions {
  from: From;
  /** Stop at the first record whose Kafka timestamp is at or after this time (epoch ms). */
  to?: number;
  /** The consumer group; default `<kafka.groupId>-replay-<UTC time>`. Never the live group. */
  group?: string;
  /** Replay only this source topic (one of kafka.topics). */
  topic?: string;
  log: Logger;
  metrics?: Metrics;
  progress?: ProgressReporter;
  /** Aborting stops the run early (signals): it still flushes, confirms and commits what it took. */
  signal?: AbortSignal;
  /** How often the committed positions are checked against the end offsets. */
  checkEveryMs?: number;
  /** How often the partitions' low watermarks are read, to see a range that retention deleted (default 10 s). */
  retentionCheckEveryMs?: number;
  /** Extra service options (e.g. the ledger's rebuild option); groupId, endOffset and onDelivered are the run's own. */
  service?: Omit<ServiceOptions, 'log' | 'metrics' | 'groupId' | 'endOffset' | 'onDelivered'>;
  /** Called once the ranges are fixed and their starts committed, before the service starts (tests use it). */
  onPlanned?: (ranges: readonly PartitionRange[]) => Promise<void>;
  /** Called once the service runs (tests watch it). */
  onStarted?: (service: Service) => void;
}

export interface ReplayResult {
  summary: ReplaySummary;
  exitCode: number;
  ranges: PartitionRange[];
}

/**
 * A bounded run: a consumer group of its own, start positions committed before it consumes, end offsets
 * captured at start; the service (startService) with that group and those ends, at the connections' replay
 * share of each account; done when the group has committed every partition to its end. Then flush, confirm,
 * leave, and summarise.
 */
export async function runReplay(config: Config, opts: ReplayOptions): Promise<ReplayResult> {
  const started = Date.now();
  const group = replayGroup(config.kafka.groupId, opts.group, started);
  const topics = replayedTopics(config, opts);
  for (const name of opts.service?.rebuildLedger ?? []) {
    if (!config.connections[name])
      throw new SyncError(
        'USAGE',
        `replay: --rebuild-ledger names "${name}", which is not one ` +
          `of connections (${Object.keys(config.connections).join(', ')})`,
        false,
      );
  }
  const runConfig = replayConfig(config, topics);
  const log = opts.log.child({ replay: group });
  const metrics = opts.metrics ?? createMetrics();

  const kafka = createKafka(runConfig.kafka, log.child({ module: 'kafka' }), '-replay');
  const admin = kafka.admin();
  await admin.connect();
  let ranges: PartitionRange[];
  try {
    ranges = await planRanges(admin, topics, opts.from, opts.to);
    await setStartOffsets(kafka, admin, group, ranges);
  } finally {
    await admin.disconnect();
  }
  await opts.onPlanned?.(ranges);
  const planned = progressOf(ranges, new Map());
  log.info(
    { topics, group, offsets: planned.total, partitions: ranges.length },
    'The replay starts; its end offsets are fixed now',
  );

  const delivered = new DeliveredByList();
  const starting = startService(runConfig, {
    ...opts.service,
    ...(opts.signal ? { signal: opts.signal } : {}),
    log,
    metrics,
    groupId: group,
    endOffset: endOffsets(ranges),
    onDelivered: (refs) => delivered.add(refs),
  });
  // Start-up waits as long as Kafka or an account is away; a signal meanwhile ends the run (nothing taken yet).
  const service = await Promise.race([starting, aborted(opts.signal)]);
  if (!service) {
    // A start that ends within a few seconds leaves the group again (a member left behind would refuse a rerun).
    const left = starting.then((s) => s.stop()).catch(() => undefined);
    await Promise.race([left, new Promise((r) => setTimeout(r, 5_000).unref())]);
    log.info('The replay stopped during start-up; nothing was taken');
    const summary: ReplaySummary = {
      group,
      complete: false,
      total: planned.total,
      events: { consumed: 0, delivered: 0, deadLettered: 0, skipped: 0 },
      lists: delivered.counts(runConfig.exports),
      ...(await countsFromMetrics(metrics)),
      lostToRetention: [],
      elapsedMs: Date.now() - started,
    };
    return { summary, exitCode: exitCodeOf(summary), ranges };
  }
  opts.onStarted?.(service);
  const { complete, lost } = await untilComplete(kafka.admin({ retry: { retries: 0 } }), service, ranges, opts);
  const { clean } = await service.stop();
  const finalProgress = progressOf(ranges, service.consumer.committed);
  opts.progress?.finish(finalProgress);

  const summary: ReplaySummary = {
    group,
    complete: complete && lost.length === 0 && clean && finalProgress.complete,
    total: planned.total,
    events: { ...service.ingest.totals },
    lists: delivered.counts(runConfig.exports),
    ...(await countsFromMetrics(metrics)),
    lostToRetention: lost,
    elapsedMs: Date.now() - started,
  };
  log.info(
    { complete: summary.complete, events: summary.events },
    summary.complete ? 'The replay is complete' : 'The replay stopped before its end',
  );
  return { summary, exitCode: exitCodeOf(summary), ranges };
}

/** Resolves (undefined) once `signal` aborts; never without one. */
function aborted(signal: AbortSignal | undefined): Promise<undefined> {
  return new Promise((resolve) => {
    if (signal?.aborted) resolve(undefined);
    else signal?.addEventListener('abort', () => resolve(undefined), { once: true });
  });
}

function replayedTopics(config: Config, opts: ReplayOptions): string[] {
  if (opts.topic !== undefined && !config.kafka.topics.includes(opts.topic)) {
    throw new SyncError(
      'USAGE',
      `replay: --topic ${opts.topic} is not one of kafka.topics (${config.kafka.topics.join(', ')})`,
      false,
    );
  }
  const topics = opts.topic !== undefined ? [opts.topic] : config.kafka.topics;
  if (opts.from.kind === 'offsets' && topics.length > 1) {
    throw new SyncError(
      'USAGE',
      `replay: --from partition:offset pairs need --topic, since kafka.topics has ${topics.length} topics`,
      false,
    );
  }
  return topics;
}

/**
 * Complete once every partition committed its end; incomplete when aborted, when the consumer gave up, or when
 * every partition left unfinished lost the rest of its range to retention (the others are finished first).
 */
async function untilComplete(
  admin: Admin,
  service: Service,
  ranges: readonly PartitionRange[],
  opts: ReplayOptions,
): Promise<{ complete: boolean; lost: PartitionRange[] }> {
  const every = opts.checkEveryMs ?? 200;
  const retentionEvery = opts.retentionCheckEveryMs ?? 10_000;
  let crashed = false;
  let lost: PartitionRange[] = [];
  let lowsReadAt = Date.now();
  const kc = service.consumer.describe();
  const off = kc.on(kc.events.CRASH, (e) => {
    if (!e.payload.restart) crashed = true;
  });
  const log = opts.log.child({ module: 'replay' });
  try {
    for (;;) {
      const committed = service.consumer.committed;
      const p = progressOf(ranges, committed);
      opts.progress?.update(p);
      if (p.complete) return { complete: lost.length === 0, lost };
      if (crashed || opts.signal?.aborted) return { complete: false, lost };
      if (Date.now() - lowsReadAt >= retentionEvery) {
        lowsReadAt = Date.now();
        // Before the watermarks: what was seen by then cannot have been lost.
        const positions = seenPositions(service, ranges, committed);
        const lows = await lowWatermarks(admin, ranges, log);
        if (lows) lost = joinLost(lost, lostToRetention(ranges, positions, lows));
        // A range whose low watermark passed its end has nothing left to wait for.
        const gone = (r: PartitionRange) => (lows?.get(tpKey(r.topic, r.partition)) ?? -1) >= r.end;
        if (
          lost.length &&
          progressOf(
            ranges.filter((r) => !gone(r)),
            committed,
          ).complete
        ) {
          log.error(
            { lost: lost.map((l) => ({ topic: l.topic, partition: l.partition, from: l.start, to: l.end })) },
            "The rest of the replay's range was deleted by the topic's retention before it was read; " +
              'the replay ends incomplete (replay a range the topic still holds)',
          );
          return { complete: false, lost };
        }
      }
      await new Promise((r) => setTimeout(r, every));
    }
  } finally {
    off();
    await admin.disconnect().catch(() => undefined);
  }
}

/** tpKey → the next offset the run has not seen (fetched and begun, or committed) in each range. */
function seenPositions(
  service: Service,
  ranges: readonly PartitionRange[],
  committed: ReadonlyMap<string, number>,
): Map<string, number> {
  const positions = new Map<string, number>();
  for (const r of ranges) {
    const key = tpKey(r.topic, r.partition);
    const seen = service.ingest.settler.seen(r.topic, r.partition);
    positions.set(key, Math.max(committed.get(key) ?? r.start, seen === undefined ? r.start : seen + 1));
  }
  return positions;
}

/** tpKey → low watermark of every replayed partition; undefined when the broker could not be asked this time. */
async function lowWatermarks(
  admin: Admin,
  ranges: readonly PartitionRange[],
  log: Logger,
): Promise<Map<string, number> | undefined> {
  try {
    await admin.connect();
    const lows = new Map<string, number>();
    for (const topic of new Set(ranges.map((r) => r.topic)))
      for (const m of await admin.fetchTopicOffsets(topic)) lows.set(tpKey(topic, m.partition), Number(m.low));
    return lows;
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'Could not read the low watermarks; the next check tries again');
    return undefined;
  }
}
