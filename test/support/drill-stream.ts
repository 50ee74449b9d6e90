import { mulberry32 } from '../../src/dev/sample/events.js';

/**
 * Flapping streams for the issue-13 drills. Unlike flapping.ts (every pair starts with an add, rounds in lock
 * step), each event here picks a seeded contact and segment, and many (segment, contact) pairs START with a
 * remove: the case where the first thing ActiveCampaign hears about a person on a list is the service's
 * unsubscribe. Pairs then flap: an add leaves, a remove re-enters, either may repeat.
 *
 * occurredAt is strictly increasing per profile (each profile has its own clock, so profiles interleave out of
 * order): the newest event of a pair is never ambiguous, and no event of these drills is legitimately stale.
 */
export type Op = 'add' | 'remove';

export interface DrillEvent {
  /** Kafka key: the profile id. */
  key: string;
  /** The JSON value as produced. */
  value: string;
  eventId: string;
  email: string;
  segmentId: string;
  op: Op;
  occurredAt: number;
}

export interface StreamOptions {
  seed: number;
  /** Prefix of emails, profile and event ids; keeps drills apart. */
  prefix: string;
  contacts: number;
  /** Segments events are drawn from (the exports' segments). */
  segments: readonly string[];
  /** Share of events on a segment no export maps (skipped by the service), default 0. */
  unmapped?: number;
  /** Share of pairs whose first event is a remove. */
  firstRemove: number;
  /** Chance that a pair in the segment leaves on its next event (else the add repeats). */
  leave: number;
  /** Chance that a pair out of the segment re-enters on its next event (else the remove repeats). */
  reenter: number;
  /** Epoch ms around which the profile clocks start. */
  start?: number;
}

/** A steady flapping mix: many pairs start with a remove, about half leave and re-enter, some are unmapped. */
export const STEADY_FLAPS = { unmapped: 0.05, firstRemove: 0.4, leave: 0.45, reenter: 0.55 } as const;

/** The segment of the unmapped events: no export maps it. */
export const UNMAPPED_SEGMENT = 'not-exported';

export const drillEmail = (prefix: string, contact: number) => `${prefix}c${contact}@example.com`;
const pairKey = (segmentId: string, email: string) => `${segmentId}\u0000${email}`;

export class FlappingStream {
  private readonly rand: () => number;
  /** Per profile: occurredAt of its last event. */
  private readonly clock: number[];
  /** Per (segment, email): the op of its last event. */
  private readonly last = new Map<string, Op>();
  private sequence = 0;

  constructor(readonly o: StreamOptions) {
    this.rand = mulberry32(o.seed);
    const start = o.start ?? Date.parse('2026-11-28T10:00:00Z');
    this.clock = Array.from({ length: o.contacts }, () => start + Math.floor(this.rand() * 60_000));
  }

  /** `count` more events of seeded contacts and segments. */
  next(count: number): DrillEvent[] {
    const out: DrillEvent[] = [];
    for (let i = 0; i < count; i++) {
      const contact = Math.floor(this.rand() * this.o.contacts);
      const segmentId =
        this.rand() < (this.o.unmapped ?? 0)
          ? UNMAPPED_SEGMENT
          : this.o.segments[Math.floor(this.rand() * this.o.segments.length)]!;
      const prior = this.last.get(pairKey(segmentId, drillEmail(this.o.prefix, contact)));
      const r = this.rand();
      let op: Op;
      if (prior === undefined) op = r < this.o.firstRemove ? 'remove' : 'add';
      else if (prior === 'add') op = r < this.o.leave ? 'remove' : 'add';
      else op = r < this.o.reenter ? 'add' : 'remove';
      out.push(this.event(contact, segmentId, op));
    }
    return out;
  }

  /** One add for each pair, newer than anything the stream holds for its profile. */
  reentries(pairs: ReadonlyArray<{ segmentId: string; email: string }>): DrillEvent[] {
    return pairs.map(({ segmentId, email }) => this.event(this.contactOf(email), segmentId, 'add'));
  }

  /** The op of each pair's last event so far: segment → email → op. */
  lastOps(): Map<string, Map<string, Op>> {
    const out = new Map<string, Map<string, Op>>();
    for (const [key, op] of this.last) {
      const [segmentId, email] = key.split('\u0000') as [string, string];
      let seg = out.get(segmentId);
      if (!seg) out.set(segmentId, (seg = new Map()));
      seg.set(email, op);
    }
    return out;
  }

  private contactOf(email: string): number {
    const m = new RegExp(`^${this.o.prefix.replace(/[^a-z0-9]/gi, '\\$&')}c(\\d+)@`).exec(email);
    if (!m) throw new Error(`${email} is not a contact of this stream`);
    return Number(m[1]);
  }

  private event(contact: number, segmentId: string, op: Op): DrillEvent {
    // 1 ms to 3 s after the profile's previous event: strictly increasing per profile.
    const occurredAt = (this.clock[contact] = this.clock[contact]! + 1 + Math.floor(this.rand() * 3_000));
    const email = drillEmail(this.o.prefix, contact);
    const id = `${this.o.prefix}p${contact}`;
    const eventId = `${this.o.prefix}e${this.sequence++}`;
    this.last.set(pairKey(segmentId, email), op);
    const value = JSON.stringify({
      eventId,
      occurredAt: new Date(occurredAt).toISOString(),
      segmentId,
      op,
      profile: { id, email, firstName: `F${contact}` },
    });
    return { key: id, value, eventId, email, segmentId, op, occurredAt };
  }
}

/** Records that cannot be decoded (dead-lettered as decode/NOT_JSON), keyed so they spread over partitions. */
export function poisonRecords(prefix: string, count: number, from = 0): { key: string; value: string }[] {
  return Array.from({ length: count }, (_, i) => ({
    key: `${prefix}poison${from + i}`,
    value: `{"eventId":"${prefix}poison${from + i}",`,
  }));
}

/** How many pairs of `events` start with a remove, start with an add, and re-enter after a remove (for diagnostics). */
export function streamShape(events: readonly DrillEvent[]): {
  pairs: number;
  firstRemove: number;
  reentries: number;
  events: number;
} {
  const last = new Map<string, Op>();
  let firstRemove = 0;
  let reentries = 0;
  for (const e of events) {
    const key = pairKey(e.segmentId, e.email);
    const prior = last.get(key);
    if (prior === undefined && e.op === 'remove') firstRemove++;
    if (prior === 'remove' && e.op === 'add') reentries++;
    last.set(key, e.op);
  }
  return { pairs: last.size, firstRemove, reentries, events: events.length };
}

/** `count` distinct seeded (email, list) pairs of a stream's contacts: people who unsubscribed themselves. */
export function seededPairs(
  seed: number,
  prefix: string,
  contacts: number,
  listIds: readonly string[],
  count: number,
): { email: string; listId: string }[] {
  const rand = mulberry32(seed);
  const out = new Map<string, { email: string; listId: string }>();
  if (count > contacts * listIds.length)
    throw new Error(`cannot pick ${count} pairs of ${contacts} contacts × ${listIds.length} lists`);
  while (out.size < count) {
    const email = drillEmail(prefix, Math.floor(rand() * contacts));
    const listId = listIds[Math.floor(rand() * listIds.length)]!;
    out.set(`${listId} ${email}`, { email, listId });
  }
  return [...out.values()];
}
