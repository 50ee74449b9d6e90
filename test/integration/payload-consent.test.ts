import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mulberry32 } from '../../src/dev/sample/events.js';
import { testConfig, type Simulator } from '../support/harness.js';
import { world } from '../support/world.js';

/**
 * Issue 15 against the real broker and the simulator: the consent matrix under both readings of whether a repeated
 * unsubscribe moves udate; leaves of contacts ActiveCampaign never had; a flapping stream over 3 lists with tags;
 * and the import audit (no 60 s window over 100 imports, or over 20 single-contact ones).
 */
const w = world({ simulator: false });
const sim = (options: Record<string, unknown> = {}): Promise<Simulator> =>
  w.simulator({ timeScale: 20, lists: ['1', '2', '3'].map((id) => ({ id, name: `L${id}` })), ...options });

let clock = Date.parse('2026-11-28T10:00:00Z');
const event = (
  email: string,
  segmentId: string,
  op: 'add' | 'remove',
  profile: Record<string, unknown> = {},
  occurredAt = (clock +=
    1_000),
) => ({
  key: email,
  value: JSON.stringify({
    eventId: `e-${email}-${occurredAt}-${segmentId}`,
    occurredAt: new Date(occurredAt).toISOString(),
    segmentId,
    op,
    profile: { id: email.split('@')[0], email, ...profile },
  }),
});
/**
 * The window of the service's own unsubscribe runs to its confirmation plus 5 s, widened to whole seconds (AC's
 * dates have whole seconds): a person's own action 8 s after the run settled falls outside it, whatever the rounding.
 */
const pastTheWindow = () => new Promise((r) => setTimeout(r, 8_000));
const audit = (s: Simulator) => s.snapshot().counters.importWindows;

/** GET /contacts?email= as a client would, waiting out a 429 (the test shares the account's budget). */
async function contact(s: Simulator, email: string): Promise<{ contacts: { firstName?: string; phone?: string }[] }> {
  for (;;) {
    const res = await fetch(`${s.url}/api/3/contacts?email=${encodeURIComponent(email)}`, {
      headers: { 'api-token': s.options.apiToken },
    });
    if (res.status === 200) return (await res.json()) as { contacts: { firstName?: string; phone?: string }[] };
    assert.equal(res.status, 429, 'only a rate limit may delay the read');
    await new Promise((r) => setTimeout(r, 100));
  }
}

function assertAudit(s: Simulator): void {
  const a = audit(s);
  assert.equal(a.overAll, 0, `no 60 s window over ${a.allLimit} imports (most: ${a.maxInWindow})`);
  assert.equal(
    a.overSingle,
    0,
    `no 60 s window over ${a.singleLimit} single-contact imports (most: ${a.maxSingleInWindow})`,
  );
}

for (const moves of [false, true]) {
  test(`consent matrix, repeatUnsubscribeMovesUdate ${moves}: every case ends as the table says, 0 forced re-subscribes`, async () => {
    const s = await sim({ repeatUnsubscribeMovesUdate: moves });
    // Where a repeat may move udate, the service is told so ('unknown'): the window cannot tell, CONSENT_UNCERTAIN.
    const repeat = moves ? 'unknown' : 'no';
    const topic = await w.topic('consent');
    const config = testConfig(topic, s, ['vip'], {
      delivery: { timeScale: 20, pollIntervalMs: 500, repeatUnsubscribeMovesUdate: repeat },
    });
    await w.start(config);
    const dlq = await w.reader(`${topic}.dlq`);
    const settle = () => w.committed(config, 'every event to settle');
    const own = 'own@example.com'; // only the service unsubscribed them
    const before_ = 'before@example.com'; // unsubscribed themselves, then the service's (repeated) unsubscribe
    const after_ = 'after@example.com'; // re-subscribed through a form after the service's unsubscribe, then unsubscribed
    const pending = 'pending@example.com'; // status 0: double opt-in pending
    const fresh = 'fresh@example.com'; // no membership at all
    s.seedContact({ email: pending, lists: { '1': 0 } });
    await w.produce(
      topic,
      [own, before_, after_].map((e) => event(e, 'vip', 'add')),
    );
    await settle();
    s.personChange({ email: before_, list: '1', status: 2, source: 'person' });
    await pastTheWindow();
    await w.produce(
      topic,
      [own, before_, after_].map((e) => event(e, 'vip', 'remove')),
    );
    await settle();
    await pastTheWindow();
    s.personChange({ email: after_, list: '1', status: 1, source: 'form' });
    s.personChange({ email: after_, list: '1', status: 2, source: 'person' });
    await w.produce(
      topic,
      [own, before_, after_, pending, fresh].map((e) => event(e, 'vip', 'add')),
    );
    await settle();
    const members = s.snapshot().lists['1']!.members;
    const codes = new Map(
      dlq.records.map((r) => [
        r.value ? (JSON.parse(r.value.toString()) as { profile: { email: string } }).profile.email : '',
        r.headers?.['dlq.error.code']?.toString(),
      ]),
    );
    assert.equal(s.snapshot().counters.forcedResubscribes, 0, 'no one who unsubscribed themselves was re-subscribed');
    assert.equal(members[before_]?.status, 2, "an unsubscribe before the service's stands");
    assert.equal(members[after_]?.status, 2, "an unsubscribe after the service's window stands");
    assert.equal(members[fresh]?.status, 1, 'no membership: a plain bulk import');
    assert.notEqual(
      members[pending]?.changedBy,
      'service-contactLists',
      'status 0 is never forced to 1 with contactLists',
    );
    if (!moves) {
      assert.equal(members[own]?.status, 1, "the service's own unsubscribe is reversed");
      assert.equal(codes.get(before_), 'CONSENT_OPTED_OUT');
      assert.equal(codes.get(after_), 'CONSENT_OPTED_OUT');
    } else {
      assert.equal(members[own]?.status, 2, "the window cannot tell a repeat from the service's own: not reversed");
      assert.equal(codes.get(own), 'CONSENT_UNCERTAIN');
      assert.equal(codes.get(before_), 'CONSENT_UNCERTAIN', 'the repeat moved udate into the window');
      assert.equal(
        codes.get(after_),
        'CONSENT_OPTED_OUT',
        `after the window: ${JSON.stringify(members[after_])} ${dlq.records
          .filter((r) => r.value?.toString().includes(after_))
          .map((r) => r.headers?.['dlq.error.message']?.toString())
          .join(' | ')}`,
      );
    }
    assertAudit(s);
  });
}

test('leaves of contacts ActiveCampaign never had create no contact; a leave of one it has goes', async () => {
  const s = await sim();
  const topic = await w.topic('leaves', 3);
  s.seedContact({ email: 'member@example.com', lists: { '2': 1 } });
  const config = testConfig(topic, s, ['vip', 'news', 'promo']);
  await w.start(config);
  const created = s.snapshot().counters.contactsCreated.byApi;
  const strangers = Array.from({ length: 30 }, (_, i) => `stranger${i}@example.com`);
  await w.produce(topic, [
    ...strangers.map((e, i) => event(e, ['vip', 'news', 'promo'][i % 3]!, 'remove', { firstName: 'S', phone: '1' })),
    event('member@example.com', 'news', 'remove'),
  ]);
  await w.committed(config, 'every leave to settle');
  assert.equal(s.snapshot().counters.contactsCreated.byApi - created, 0, 'no contact was created by a leave');
  assert.equal(
    s.snapshot().lists['2']!.members['member@example.com']?.status,
    2,
    'the leave of a contact AC has was sent',
  );
  assertAudit(s);
});

test('a flapping stream over 3 lists with tags: tags only on lists each contact joined, fields equal the newest event', async () => {
  const s = await sim();
  const topic = await w.topic('flap-tags', 3);
  const segments = ['vip', 'news', 'promo'];
  const exports = segments.map((segmentId, i) => ({
    name: segmentId,
    segmentId,
    connection: 'main',
    listId: String(i + 1),
    tags: [`segment:${segmentId}`],
  }));
  const config = testConfig(topic, s, segments, { exports });
  const rand = mulberry32(15);
  const joined = new Map<string, Set<string>>();
  const newest = new Map<string, { at: number; firstName: string; phone: string }>();
  const events: { key: string; value: string }[] = [];
  const base = Date.parse('2026-11-28T11:00:00Z');
  for (let c = 0; c < 40; c++) {
    const email = `flap${c}@example.com`;
    for (let k = 0; k < 8; k++) {
      const segmentId = segments[Math.floor(rand() * 3)]!;
      const op = rand() < 0.55 ? 'add' : 'remove';
      const at = base + c * 100_000 + Math.floor(rand() * 90_000); // arrival order is not occurredAt order
      const profile = { firstName: `F${c}-${at}`, phone: `+1${at}` };
      events.push(event(email, segmentId, op, profile, at));
      if (op === 'add') joined.set(email, new Set([...(joined.get(email) ?? []), segmentId]));
      if ((newest.get(email)?.at ?? -1) < at) newest.set(email, { at, ...profile });
    }
  }
  await w.start(config);
  await w.produce(topic, events);
  await w.committed(config, 'the stream to settle');
  const tags = s.snapshot().tags;
  let checked = 0;
  for (const [email, expected] of newest) {
    for (const tag of tags[email] ?? [])
      assert.ok(
        joined.get(email)?.has(tag.replace('segment:', '')),
        `${email} carries ${tag} only if it joined that list`,
      );
    const found = (await contact(s, email)).contacts[0];
    if (!found) continue; // only leaves, never joined: no contact (see the test above)
    assert.equal(found.firstName, expected.firstName, `${email}: first name of the newest event`);
    assert.equal(found.phone, expected.phone, `${email}: phone of the newest event`);
    checked++;
  }
  assert.ok(checked >= 30, `fields checked for ${checked} contacts`);
  assertAudit(s);
});
