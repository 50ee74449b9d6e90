import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { partitionCount } from '../../src/kafka/topics.js';
import { runToExit, writeConfig } from '../support/cli.js';
import { rawConfig } from '../support/harness.js';
import { world } from '../support/world.js';

/**
 * Issue 18, no raw emails at rest: a ledger with raw-email keys is migrated by one command into a new topic with
 * hashed keys (the old one deleted), the service goes on from it (re-entry still finds its own unsubscribe), no
 * key, value or header of the new topic holds an email, and `trace` answers given an email.
 */
const w = world({ simulator: false });

const T0 = Date.parse('2026-11-28T10:00:00Z');
const event = (email: string, op: 'add' | 'remove', at: number) => ({
  key: email.split('@')[0]!,
  value: JSON.stringify({
    eventId: `e-${email}-${op}-${at}`,
    occurredAt: new Date(T0 + at * 1000).toISOString(),
    segmentId: 'vip',
    op,
    profile: { id: email.split('@')[0], email },
  }),
});

/** Every key, value and header of a topic that holds an email (none expected). */
async function emailsIn(topic: string, count: number): Promise<string[]> {
  const records = await w.read(topic, count);
  const found: string[] = [];
  for (const r of records) {
    for (const text of [r.key ?? '', r.value?.toString() ?? '', ...Object.entries(r.headers).flat()])
      if (text.includes('@')) found.push(text);
  }
  return found;
}

test('ledger-migrate hashes the keys into a new topic and deletes the old one; the service and trace go on from it with no email at rest', async () => {
  const s = await w.simulator({ timeScale: 20, limits: { enabled: false }, lists: [{ id: '1', name: 'L1' }] });
  const topic = await w.topic('ledger-hash');
  const member = (email: string) => s.snapshot().lists['1']!.members[email];

  // A ledger of before: raw-email keys. Ann subscribed; Bob subscribed, then unsubscribed by the service.
  const plain = rawConfig(topic, s, ['vip'], { log: { level: 'silent' } });
  const first = await w.start(parseConfig(plain));
  await w.produce(topic, [event('ann@example.com', 'add', 1), event('bob@example.com', 'add', 1)]);
  await w.until(() => member('bob@example.com')?.status === 1, 'Bob subscribed');
  await w.produce(topic, [event('bob@example.com', 'remove', 2)]);
  await w.committed(first, 'every event to settle');
  assert.equal(member('bob@example.com')?.status, 2);
  await first.stop();
  assert.ok(
    (await emailsIn(`${topic}.ledger`, 3)).length > 0,
    'the old ledger holds raw emails: the migration has work to do',
  );

  const hashed = { ...plain, ledger: { topic: '{topic}.ledger-h', hashKey: { value: 'a-test-hash-key' } } };
  const file = writeConfig({ ...plain, ledger: { hashKey: { value: 'a-test-hash-key' } } });
  const migrated = await runToExit(['ledger-migrate', '--config', file, '--to', '{topic}.ledger-h'], 120_000);
  assert.equal(migrated.code, 0, migrated.stderr.join('\n'));
  assert.equal(await partitionCount(w.admin, `${topic}.ledger`), undefined, 'the old topic is deleted');
  // Ann, Bob (his unsubscribe replaced his intent; the topic may not be compacted yet) and the check record.
  assert.deepEqual(await emailsIn(`${topic}.ledger-h`, 3), []);

  // The service on the new topic: Bob re-enters, and the migrated record says the unsubscribe was the service's.
  const second = await w.start(parseConfig(hashed));
  await w.produce(topic, [event('bob@example.com', 'add', 3)]);
  await w.until(
    () => member('bob@example.com')?.status === 1,
    'Bob re-subscribed: his migrated ledger record was found by the hash of his email',
  );
  assert.equal(
    s.snapshot().counters.forcedResubscribes,
    0,
    'the service re-subscribed its own unsubscribe, no opt-out',
  );
  await w.committed(second, 'every event to settle');
  await second.stop();
  assert.deepEqual(
    await emailsIn(`${topic}.ledger-h`, 4),
    [],
    'after a run on it: still no email in any key, value or header',
  );

  const traceFile = writeConfig(hashed);
  const traced = await runToExit(['trace', '--email', 'Bob@Example.com', '--config', traceFile, '--json'], 60_000);
  assert.equal(traced.code, 0, traced.stderr.join('\n'));
  const out = JSON.parse(traced.stdout.join('\n')) as {
    topics: { lines: { listId: string; ledger?: { op: string; byService: boolean } }[] }[];
  };
  assert.deepEqual(
    out.topics[0]!.lines.find((l) => l.listId === '1')?.ledger?.op,
    'add',
    'trace finds the hashed record given the email',
  );
});
