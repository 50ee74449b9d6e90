import { maskEmail, scrubLine } from '../observability/logger.js';
import { DLQ_HEADERS } from './envelope.js';
import { headerText, type StoredRecord } from '../kafka/read-to-end.js';

/**
 * `dlq inspect`, pure: dead letters counted by stage and code, with a few samples each. Samples never show an
 * email in clear (masked with maskEmail, and the reason text scrubbed the way log lines are).
 */
export interface Sample {
  at: string;
  source: string;
  export: string | undefined;
  reason: string;
  email: string | undefined;
  replayed: boolean;
}

export interface Group {
  stage: string;
  code: string;
  count: number;
  samples: Sample[];
}

export const REPLAYED_AT = 'dlq.replayed.at';
export const REPLAYED_FROM = 'dlq.replayed.from';

export class DeadLetterTally {
  private readonly groups = new Map<string, Group>();
  total = 0;

  constructor(private readonly samplesPerGroup = 3) {}

  add(r: StoredRecord): void {
    this.total++;
    const stage = headerText(r, DLQ_HEADERS.stage) ?? '(none)';
    const code = headerText(r, DLQ_HEADERS.code) ?? '(none)';
    const id = `${stage}\u0000${code}`;
    let g = this.groups.get(id);
    if (!g) this.groups.set(id, (g = { stage, code, count: 0, samples: [] }));
    g.count++;
    if (g.samples.length < this.samplesPerGroup) g.samples.push(sampleOf(r));
  }

  /** Largest groups first. */
  report(): Group[] {
    return [...this.groups.values()].sort(
      (a, b) => b.count - a.count || a.stage.localeCompare(b.stage) || a.code.localeCompare(b.code),
    );
  }
}

export function sampleOf(r: StoredRecord): Sample {
  const source =
    `${headerText(r, DLQ_HEADERS.topic) ?? '?'}/${headerText(r, DLQ_HEADERS.partition) ?? '?'}` +
    `@${headerText(r, DLQ_HEADERS.offset) ?? '?'}`;
  return {
    at: headerText(r, DLQ_HEADERS.failedAt) ?? new Date(r.timestamp).toISOString(),
    source,
    export: headerText(r, DLQ_HEADERS.export),
    reason: scrubLine(headerText(r, DLQ_HEADERS.message) ?? ''),
    email: emailOf(r.value),
    replayed: r.headers[REPLAYED_AT] !== undefined,
  };
}

/** The event's email, masked, when the value is a JSON event; undefined otherwise (Avro, garbage, a tombstone). */
function emailOf(value: Buffer | null): string | undefined {
  if (!value || value.length === 0 || value[0] !== 0x7b) return undefined;
  try {
    const email = (JSON.parse(value.toString('utf8')) as { profile?: { email?: unknown } }).profile?.email;
    return typeof email === 'string' ? maskEmail(email.trim().toLowerCase()) : undefined;
  } catch {
    return undefined;
  }
}

export function formatInspect(topic: string, total: number, groups: readonly Group[]): string[] {
  const lines = [`${topic}: ${total.toLocaleString('en-US')} dead letters`];
  if (total === 0) return lines;
  const width = Math.max(...groups.map((g) => `${g.stage}/${g.code}`.length));
  for (const g of groups) {
    lines.push(`  ${`${g.stage}/${g.code}`.padEnd(width)}  ${g.count.toLocaleString('en-US')}`);
    for (const s of g.samples) {
      const parts = [
        s.at,
        s.source,
        s.export ? `export ${s.export}` : undefined,
        s.email,
        s.replayed ? 'replayed before' : undefined,
      ].filter(Boolean);
      lines.push(`      ${parts.join('  ')}: ${s.reason}`);
    }
  }
  return lines;
}
