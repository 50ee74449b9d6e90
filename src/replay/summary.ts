import type { Config } from '../config/schema.js';
import type { EventRef } from '../ingest/source.js';
import type { Totals } from '../ingest/ingest.js';
import type { Metrics } from '../observability/metrics.js';
import { formatDuration } from './progress.js';

/**
 * What a bounded run reports when it ends, and the exit code that follows from it. Counting is pure; reading
 * the metrics registry is the one async step (prom-client's get()).
 */
export const EXIT = {
  /** Everything in range settled; nothing was dead-lettered. */
  clean: 0,
  /** Stopped before the end (signal, the consumer crashed, or the shutdown deadline passed). */
  incomplete: 3,
  /** Everything in range settled, and something was dead-lettered: see `dlq inspect`. */
  deadLettered: 4,
} as const;

/** Contacts are told apart by record key (the profile id) up to this many per list; beyond, counts say "at least". */
const DISTINCT_CAP = 1_000_000;

export interface ListCount {
  export: string;
  connection: string;
  listId: string;
  /** Events settled as delivered for this export. */
  events: number;
  /** Distinct record keys (profiles) among them. */
  contacts: number;
  /** `contacts` stopped counting at the cap. */
  capped: boolean;
}

/** Delivered events and distinct contacts per export (list), fed from ServiceOptions.onDelivered. */
export class DeliveredByList {
  private readonly events = new Map<string, number>();
  private readonly keys = new Map<string, Set<string>>();
  private readonly capped = new Set<string>();

  add(refs: readonly EventRef[]): void {
    for (const ref of refs) {
      this.events.set(ref.exportName, (this.events.get(ref.exportName) ?? 0) + 1);
      const key = ref.message.key?.toString('utf8');
      if (key === undefined) continue;
      let seen = this.keys.get(ref.exportName);
      if (!seen) this.keys.set(ref.exportName, (seen = new Set()));
      if (seen.size < DISTINCT_CAP) seen.add(key);
      else if (!seen.has(key)) this.capped.add(ref.exportName);
    }
  }

  counts(exports: Config['exports']): ListCount[] {
    return exports
      .filter((e) => e.enabled)
      .map((e) => ({
        export: e.name,
        connection: e.connection,
        listId: e.listId,
        events: this.events.get(e.name) ?? 0,
        contacts: this.keys.get(e.name)?.size ?? 0,
        capped: this.capped.has(e.name),
      }));
  }
}

export interface ReplaySummary {
  group: string;
  complete: boolean;
  /** Offsets covered by the ranges. */
  total: number;
  events: Totals;
  lists: ListCount[];
  deadLetters: { stage: string; code: string; count: number }[];
  api: { requests: number; byEndpoint: Record<string, number>; throttled: number };
  /** Offsets `[start, end)` per partition that retention deleted before the run read them (it is incomplete). */
  lostToRetention: { topic: string; partition: number; start: number; end: number }[];
  elapsedMs: number;
}

export function exitCodeOf(s: Pick<ReplaySummary, 'complete' | 'deadLetters' | 'events'>): number {
  if (!s.complete) return EXIT.incomplete;
  return s.events.deadLettered > 0 || s.deadLetters.some((d) => d.count > 0) ? EXIT.deadLettered : EXIT.clean;
}

/** Dead letters by stage and code, and API requests, from this run's metrics registry. */
export async function countsFromMetrics(metrics: Metrics): Promise<Pick<ReplaySummary, 'deadLetters' | 'api'>> {
  const deadLetters = (await metrics.deadLetters.get()).values
    .filter((v) => v.value > 0)
    .map((v) => ({ stage: String(v.labels.stage), code: String(v.labels.code), count: v.value }))
    .sort((a, b) => b.count - a.count);
  const byEndpoint: Record<string, number> = {};
  let requests = 0;
  let throttled = 0;
  for (const v of (await metrics.apiRequests.get()).values) {
    requests += v.value;
    const endpoint = String(v.labels.endpoint);
    byEndpoint[endpoint] = (byEndpoint[endpoint] ?? 0) + v.value;
    if (String(v.labels.status) === '429') throttled += v.value;
  }
  return { deadLetters, api: { requests, byEndpoint, throttled } };
}

const n = (v: number) => v.toLocaleString('en-US');

export function formatSummary(s: ReplaySummary): string[] {
  const e = s.events;
  const lines = [
    s.complete
      ? 'Replay complete.'
      : "Replay stopped before the end: the group's committed offsets show how far it got.",
    `Consumer group:    ${s.group}`,
    `Events:            ${n(e.consumed)} consumed of ${n(s.total)} offsets in range ` +
      `(delivered ${n(e.delivered)}, dead-lettered ${n(e.deadLettered)}, skipped ${n(e.skipped)})`,
  ];
  for (const l of s.lists) {
    lines.push(
      `List ${l.listId} (${l.export}, ${l.connection}): ${n(l.events)} changes ` +
        `delivered, ${l.capped ? 'at least ' : ''}${n(l.contacts)} contacts`,
    );
  }
  if (s.lostToRetention.length) {
    const lost = s.lostToRetention.map((r) => `${r.topic}/${r.partition} ${n(r.start)}–${n(r.end)}`).join(', ');
    lines.push(`Lost to retention: ${lost} (deleted by the topic's retention before the replay read them)`);
  }
  const dead = s.deadLetters.map((d) => `${d.stage}/${d.code} ${n(d.count)}`).join(', ');
  lines.push(`Dead letters:      ${dead || 'none'}`);
  const endpoints = Object.entries(s.api.byEndpoint)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k} ${n(v)}`)
    .join(', ');
  lines.push(
    `API requests:      ${n(s.api.requests)}${endpoints ? ` (${endpoints})` : ''}, ${n(s.api.throttled)} answered 429`,
  );
  lines.push(`Elapsed:           ${formatDuration(s.elapsedMs / 1000)}`);
  return lines;
}
