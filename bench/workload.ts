import { sampleEmail, sampleEvents, type SampleEvent } from '../src/dev/sample/events.js';

/**
 * The event streams of the benchmark. Pure generators; the producer role encodes and sends them.
 *
 * - `sample`: src/dev/sample/events.ts streams over five segments, one per producer slice. Each slice has its own
 *   seed and its own profiles (profile p of slice k of n becomes n·p + k), so slices written in parallel never
 *   touch the same contact. With events/3.75 profiles per slice, about 30% of events repeat a (segment, profile)
 *   seen before: repeats of an add, and flaps (add → remove). Nobody re-enters after leaving: ActiveCampaign's
 *   bulk import never re-subscribes an unsubscribed contact, and dead-lettering those would measure the
 *   dead-letter path instead of the pipeline.
 * - `distinct`: one add per contact, each a different email, segments in turn: no coalescing at all, so
 *   every event is one contact in one import (the API-ceiling and latency runs).
 * - `multi`: each contact joins MULTI_SEGMENTS at once, one add per segment, the contact's events next to each
 *   other in the topic; the service carries all of them in one contact entry of one import (step 6). Here
 *   `count` is contacts, not events: a slice writes count × MULTI_SEGMENTS.length events.
 */
export const SEGMENTS = ['seg-1', 'seg-2', 'seg-3', 'seg-4', 'seg-5'] as const;
/** Simulator lists 1..5 (its defaults), one per segment. */
export const listOf = (segment: string): string => String(SEGMENTS.indexOf(segment as (typeof SEGMENTS)[number]) + 1);
/** The segments (lists 1..3) every contact of the `multi` workload joins at once. */
export const MULTI_SEGMENTS = SEGMENTS.slice(0, 3);

const START = Date.parse('2026-11-28T10:00:00Z');
/** Events per profile and segment pair that give about 30% repeats (1 − (1 − e^−x)/x ≈ 0.3 at x = 0.75). */
const EVENTS_PER_PROFILE = 3.75;

export interface Workload {
  kind: 'sample' | 'distinct' | 'multi';
  /** Events in this slice (`multi`: contacts). */
  count: number;
  /** This slice's number and the number of slices written in parallel. */
  slice: number;
  slices: number;
  /** distinct, multi: the first contact number of this slice (slices must not overlap). */
  from?: number;
}

export interface WorkloadStats {
  events: number;
  /** Events on a (segment, profile) pair seen before in the stream: repeats and flaps. */
  repeats: number;
  removes: number;
}

export function* workloadEvents(w: Workload, stats: WorkloadStats): Generator<SampleEvent> {
  if (w.kind === 'distinct') yield* distinctContacts(w.from ?? 0, w.count, stats);
  else if (w.kind === 'multi') yield* multiListContacts(w.from ?? 0, w.count, stats);
  else yield* sampleSlice(w, stats);
}

function* sampleSlice(w: Workload, stats: WorkloadStats): Generator<SampleEvent> {
  const seen = new Set<string>();
  const options = {
    events: w.count,
    profiles: Math.max(1, Math.ceil(w.count / EVENTS_PER_PROFILE)),
    segments: [...SEGMENTS],
    removeRatio: 0.5,
    reentry: false,
    seed: 1_000 + w.slice,
    start: START,
  };
  for (const e of sampleEvents(options)) {
    const own = Number(e.key.slice(2)) * w.slices + w.slice;
    const pair = `${e.value.segmentId}\u0000${own}`;
    stats.events++;
    if (seen.has(pair)) stats.repeats++;
    else seen.add(pair);
    if (e.value.op === 'remove') stats.removes++;
    yield {
      key: `p-${own}`,
      value: {
        ...e.value,
        profile: { id: `p-${own}`, email: sampleEmail(own), firstName: `First${own}`, lastName: `Last${own}` },
      },
    };
  }
}

function* distinctContacts(from: number, count: number, stats: WorkloadStats): Generator<SampleEvent> {
  for (let i = from; i < from + count; i++) {
    stats.events++;
    yield {
      key: `c-${i}`,
      value: {
        eventId: `d-${i}`,
        occurredAt: new Date(START + i).toISOString(),
        segmentId: SEGMENTS[i % SEGMENTS.length]!,
        op: 'add',
        profile: { id: `c-${i}`, email: `contact${i}@example.com`, firstName: `First${i}`, lastName: `Last${i}` },
      },
    };
  }
}

function* multiListContacts(from: number, count: number, stats: WorkloadStats): Generator<SampleEvent> {
  for (let i = from; i < from + count; i++) {
    const profile = { id: `m-${i}`, email: `multi${i}@example.com`, firstName: `First${i}`, lastName: `Last${i}` };
    for (const [j, segmentId] of MULTI_SEGMENTS.entries()) {
      stats.events++;
      yield {
        key: profile.id,
        value: { eventId: `m-${i}-${j}`, occurredAt: new Date(START + i).toISOString(), segmentId, op: 'add', profile },
      };
    }
  }
}

/**
 * The membership a workload leaves, as the demo's check takes it (src/dev/sample/events.ts membershipDiff): segment →
 * email → the op of the newest event for that (segment, email). Slices own disjoint contacts, so their order
 * between each other does not matter; within a slice, events of one key are in topic order.
 */
export function expectedMembership(slices: readonly Workload[]): Map<string, Map<string, 'add' | 'remove'>> {
  const expected = new Map<string, Map<string, 'add' | 'remove'>>();
  const stats: WorkloadStats = { events: 0, repeats: 0, removes: 0 };
  for (const w of slices) {
    for (const e of workloadEvents(w, stats)) {
      let bySegment = expected.get(e.value.segmentId);
      if (!bySegment) expected.set(e.value.segmentId, (bySegment = new Map()));
      bySegment.set(e.value.profile.email, e.value.op);
    }
  }
  return expected;
}

/** The Avro shape of an event (schemas/membership-change.avsc): the optional profile fields present as null. */
export const avroValue = (value: SampleEvent['value']) => ({
  ...value,
  profile: { ...value.profile, phone: null, attributes: null },
});
