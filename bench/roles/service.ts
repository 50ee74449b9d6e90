// First: kafkajs's producers must load with our partition grouping, as the CLI's (src/cli/index.ts).
import '../../src/kafka/partition-grouping.js';
import type { EventRef } from '../../src/ingest/source.js';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import pino from 'pino';
import { parseConfig } from '../../src/config/load.js';
import { startService, type Service } from '../../src/service.js';
import { createLogger } from '../../src/observability/logger.js';
import { serveRole } from '../ipc.js';
import { cpuSince, distribution, usage, type Distribution } from '../measure.js';
import type { DeadLetterCounts } from '../outcome.js';

/**
 * The whole service (startService from src/service.ts) in a process of its own. Its clock and CPU count start
 * when startService has returned (accounts checked, consumer joined), as the raw consumer's start once it has
 * joined. Progress comes from the pipeline's totals; a sampler every 100 ms keeps the peak of unsettled events
 * and whether fetching was ever paused.
 *
 * Latency: the pipeline's accepted(refs, at) hook feeds ac_list_sync_end_to_end_seconds{from="append"} with
 * `at − Kafka timestamp`. Wrapped here, the same differences are kept exactly instead of in histogram buckets.
 */
export interface ServiceInit {
  /** Raw config object, parsed here with the service's own schema. */
  config: unknown;
  logFile: string;
  recordLatency: boolean;
}

export interface ServiceStats {
  /** Seconds since startService returned. */
  at: number;
  consumed: number;
  settled: number;
  accepted: number;
  deadLettered: number;
  pending: number;
  peakPending: number;
  paused: boolean;
  everPaused: boolean;
  cpuSeconds: number;
  rssMb: number;
  peakRssMb: number;
}

export interface HeapSample {
  /** heapUsed + arrayBuffers after a full collection. */
  bytes: number;
  pending: number;
}

export interface SettledResult {
  /** Seconds since startService returned until `count` events were consumed, accepted, settled. */
  consumedAt: number;
  acceptedAt: number;
  settledAt: number;
  stats: ServiceStats;
}

serveRole(async (raw) => {
  const init = raw as ServiceInit;
  const config = parseConfig(init.config);
  const log = createLogger(
    config.log.level,
    pino.destination({ dest: init.logFile, sync: false, mkdir: true }),
    'json',
  );
  let accepted = 0;
  const latenciesMs: number[] = [];
  const onAccepted = (refs: readonly EventRef[], at: number) => {
    accepted += refs.length;
    if (init.recordLatency) for (const ref of refs) latenciesMs.push(at - ref.message.timestamp);
  };
  const service: Service = await startService(config, { log, onAccepted });
  const cpu = process.cpuUsage();
  const started = performance.now();
  const since = () => (performance.now() - started) / 1000;

  const pipeline = service.ingest;

  let peakPending = 0;
  let everPaused = false;
  const sample = () => {
    peakPending = Math.max(peakPending, pipeline.pending);
    everPaused ||= service.consumer.paused;
  };
  const sampler = setInterval(sample, 100);

  const stats = (): ServiceStats => {
    sample();
    const t = pipeline.totals;
    const u = usage();
    return {
      at: since(),
      consumed: t.consumed,
      settled: t.delivered + t.deadLettered + t.skipped,
      accepted,
      deadLettered: t.deadLettered,
      pending: pipeline.pending,
      peakPending,
      paused: service.consumer.paused,
      everPaused,
      cpuSeconds: cpuSince(cpu),
      rssMb: u.rssMb,
      peakRssMb: u.peakRssMb,
    };
  };

  /** Resolves once `count` events have settled (polling every 20 ms), with when each stage got there. */
  async function waitSettled(arg: unknown): Promise<SettledResult> {
    const { count, timeoutSeconds } = arg as { count: number; timeoutSeconds: number };
    const deadline = since() + timeoutSeconds;
    const marks: { consumedAt?: number; acceptedAt?: number } = {};
    for (;;) {
      const t = pipeline.totals;
      const now = since();
      if (marks.consumedAt === undefined && t.consumed >= count) marks.consumedAt = now;
      if (marks.acceptedAt === undefined && accepted >= count) marks.acceptedAt = now;
      if (t.delivered + t.deadLettered + t.skipped >= count) {
        return {
          consumedAt: marks.consumedAt ?? now,
          acceptedAt: marks.acceptedAt ?? now,
          settledAt: now,
          stats: stats(),
        };
      }
      if (now > deadline)
        throw new Error(
          `the service settled ${t.delivered + t.deadLettered + t.skipped} of ${count} events in ${timeoutSeconds} s`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Heap and array buffers after a full collection, and the unsettled events they hold. */
  const heap = (): HeapSample => {
    (globalThis as { gc?: () => void }).gc?.();
    const m = process.memoryUsage();
    const pending = pipeline.pending;
    // BENCH_HEAP_SNAPSHOT_DIR: each measurement also writes a V8 heap snapshot there (what the bytes are), after it.
    const snapshots = process.env.BENCH_HEAP_SNAPSHOT_DIR;
    if (snapshots) writeHeapSnapshot(join(snapshots, `service-${process.pid}-${Date.now()}.heapsnapshot`));
    return { bytes: m.heapUsed + m.arrayBuffers, pending };
  };

  return {
    ready: {},
    commands: {
      stats,
      heap,
      waitSettled,
      latency: (): Distribution => distribution(latenciesMs),
      /** process.memoryUsage() as it is (no collection), the unsettled events and the ledger index's bytes. */
      memory: async () => ({
        ...process.memoryUsage(),
        pending: pipeline.pending,
        ledgerBytes: (await service.metrics.ledgerBytes.get()).values.reduce((a, v) => a + v.value, 0),
      }),
      /** ac_list_sync_dead_letters_total by `stage/code` (letters the broker acknowledged). */
      deadLetters: async (): Promise<DeadLetterCounts> => {
        const counts: DeadLetterCounts = {};
        for (const v of (await service.metrics.deadLetters.get()).values)
          if (v.value > 0) counts[`${v.labels.stage}/${v.labels.code}`] = v.value;
        return counts;
      },
    },
    close: async () => {
      clearInterval(sampler);
      await service.stop();
      log.flush();
    },
  };
});
