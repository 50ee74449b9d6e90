import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { SyncError } from '../domain/errors.js';
import { createKafka } from '../kafka/client.js';
import { startService, type Service, type ServiceOptions } from '../service.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { replayGroup, type From } from './from.js';
import { endOffsets, progressOf, replayConfig, type PartitionRange } from './plan.js';
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
  /** Extra service options (e.g. the ledger's rebuild option); groupId, endOffset and onDelivered are the run's own. */
  service?: Omit<ServiceOptions, 'log' | 'metrics' | 'groupId' | 'endOffset' | 'onDelivered'>;
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
  const planned = progressOf(ranges, new Map());
  log.info(
    { topics, group, offsets: planned.total, partitions: ranges.length },
    'The replay starts; its end offsets are fixed now',
  );

  const delivered = new DeliveredByList();
  const service = await startService(runConfig, {
    ...opts.service,
    log,
    metrics,
    groupId: group,
    endOffset: endOffsets(ranges),
    onDelivered: (refs) => delivered.add(refs),
  });
  opts.onStarted?.(service);
  const complete = await untilComplete(service, ranges, opts);
  const { clean } = await service.stop();
  const finalProgress = progressOf(ranges, service.consumer.committed);
  opts.progress?.finish(finalProgress);

  const summary: ReplaySummary = {
    group,
    complete: complete && clean && finalProgress.complete,
    total: planned.total,
    events: { ...service.ingest.totals },
    lists: delivered.counts(runConfig.exports),
    ...(await countsFromMetrics(metrics)),
    elapsedMs: Date.now() - started,
  };
  log.info(
    { complete: summary.complete, events: summary.events },
    summary.complete ? 'The replay is complete' : 'The replay stopped before its end',
  );
  return { summary, exitCode: exitCodeOf(summary), ranges };
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

/** Resolves true once every partition committed its end, false when aborted or the consumer gave up. */
async function untilComplete(
  service: Service,
  ranges: readonly PartitionRange[],
  opts: ReplayOptions,
): Promise<boolean> {
  const every = opts.checkEveryMs ?? 200;
  let crashed = false;
  const kc = service.consumer.describe();
  const off = kc.on(kc.events.CRASH, (e) => {
    if (!e.payload.restart) crashed = true;
  });
  try {
    for (;;) {
      const p = progressOf(ranges, service.consumer.committed);
      opts.progress?.update(p);
      if (p.complete) return true;
      if (crashed || opts.signal?.aborted) return false;
      await new Promise((r) => setTimeout(r, every));
    }
  } finally {
    off();
  }
}
