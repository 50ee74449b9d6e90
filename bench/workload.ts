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
 */
export const SEGMENTS = ['seg-1', 'seg-2', 'seg-3', 'seg-4', 'seg-5'] as const;
/** Simulator lists 1..5 (its defaults), one per segment. */
export const listOf = (segment: string): string => String(SEGMENTS.indexOf(segment as (typeof SEGMENTS)[number]) + 1);

const START = Date.parse('2026-11-28T10:00:00Z');
/** Events per profile and segment pair that give about 30% repeats (1 − (1 − e^−x)/x ≈ 0.3 at x = 0.75). */
const EVENTS_PER_PROFILE = 3.75;

export interface Workload {
  kind: 'sample' | 'distinct';
  /** Events in this slice. */
  count: number;
  /** This slice's number and the number of slices written in parallel. */
  slice: number;
  slices: number;
  /** distinct: the first contact number of this slice (slices must not overlap). */
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
  else yield* sampleSlice(w, stats);
}

function* sampleSlice(w: Workload, stats: WorkloadStats): Generator<SampleEvent> {
  const seen = new Set<string>();
  const options = { events: w.count, profiles: Math.max(1, Math.ceil(w.count / EVENTS_PER_PROFILE)), segments: [...SEGMENTS], removeRatio: 0.5, reentry: false, seed: 1_000 + w.slice, start: START };
  for (const e of sampleEvents(options)) {
    const own = Number(e.key.slice(2)) * w.slices + w.slice;
    const pair = `${e.value.segmentId}\u0000${own}`;
    stats.events++;
    if (seen.has(pair)) stats.repeats++;
    else seen.add(pair);
    if (e.value.op === 'remove') stats.removes++;
    yield {
      key: `p-${own}`,
      value: { ...e.value, profile: { id: `p-${own}`, email: sampleEmail(own), firstName: `First${own}`, lastName: `Last${own}` } },
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

/** The Avro shape of an event (schemas/membership-change.avsc): the optional profile fields present as null. */
export const avroValue = (value: SampleEvent['value']) => ({ ...value, profile: { ...value.profile, phone: null, attributes: null } });
