/**
 * Sample streams of membership changes, deterministic for a seed: for the demo, the tests and the benchmark.
 * Profiles enter segments, repeat, and leave; with `reentry: false` nobody re-enters a segment after leaving it
 * (ActiveCampaign's bulk import never re-subscribes an unsubscribed contact).
 */
export interface SampleOptions {
  events: number;
  profiles: number;
  segments: string[];
  /** Share of events on a member that are removes (the rest are repeats of add). */
  removeRatio: number;
  reentry: boolean;
  seed: number;
  /** occurredAt of the first event, epoch ms; each next event is 1 ms later. */
  start: number;
}

export interface SampleEvent {
  key: string;
  value: {
    eventId: string;
    occurredAt: string;
    segmentId: string;
    op: 'add' | 'remove';
    profile: { id: string; email: string; firstName: string; lastName: string };
  };
}

export const sampleEmail = (profile: number) => `user${profile}@example.com`;

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Generates the events and the final state they imply: segment → email → last op. */
export function* sampleEvents(
  o: SampleOptions,
  expected?: Map<string, Map<string, 'add' | 'remove'>>,
): Generator<SampleEvent> {
  const rand = mulberry32(o.seed);
  const state = new Map<string, 'add' | 'remove'>();
  for (let i = 0; i < o.events; i++) {
    const profile = Math.floor(rand() * o.profiles);
    const segmentId = o.segments[Math.floor(rand() * o.segments.length)]!;
    const key = `${segmentId}\u0000${profile}`;
    const prior = state.get(key);
    let op: 'add' | 'remove';
    if (prior === undefined) op = 'add';
    else if (prior === 'remove') op = o.reentry && rand() < 0.5 ? 'add' : 'remove';
    else op = rand() < o.removeRatio ? 'remove' : 'add';
    state.set(key, op);
    const email = sampleEmail(profile);
    if (expected) {
      const seg = expected.get(segmentId) ?? new Map<string, 'add' | 'remove'>();
      seg.set(email, op);
      expected.set(segmentId, seg);
    }
    yield {
      key: `p-${profile}`,
      value: {
        eventId: `e-${o.seed}-${i}`,
        occurredAt: new Date(o.start + i).toISOString(),
        segmentId,
        op,
        profile: { id: `p-${profile}`, email, firstName: `First${profile}`, lastName: `Last${profile}` },
      },
    };
  }
}

/** Compares the simulator's list members with the expected final ops; returns a list of differences. */
export function membershipDiff(
  expected: Map<string, Map<string, 'add' | 'remove'>>,
  listOf: (segmentId: string) => string,
  members: (listId: string) => Record<string, { status: number }>,
): string[] {
  const diffs: string[] = [];
  for (const [segmentId, byEmail] of expected) {
    const listId = listOf(segmentId);
    const actual = members(listId);
    for (const [email, op] of byEmail) {
      const status = actual[email]?.status;
      if (op === 'add' && status !== 1)
        diffs.push(`list ${listId}: ${email} should be subscribed, is ${status ?? 'absent'}`);
      if (op === 'remove' && status === 1) diffs.push(`list ${listId}: ${email} should not be subscribed`);
    }
    for (const [email, m] of Object.entries(actual)) {
      if (m.status === 1 && !byEmail.has(email)) diffs.push(`list ${listId}: ${email} is subscribed but never added`);
    }
  }
  return diffs;
}
