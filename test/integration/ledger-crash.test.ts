import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONSENT_OPTED_OUT } from '../../src/ledger/decide.js';
import { waitForLog } from '../support/cli.js';
import {
  asSource,
  codeOf,
  emailIn,
  roundEvents,
  scrapedConsumed,
  seedOptedOut,
  statuses,
  writes,
  type Group,
  type SourceEvent,
} from '../support/flapping.js';
import { world } from '../support/world.js';

/**
 * SIGKILL in the middle of a re-entry round (some contacts re-subscribed, their offsets not committed), then a
 * restart of the CLI: the new process restores the ledger from its topic, so re-entries already made are not
 * forced again, the flapping contacts still end subscribed, opt-outs stand, and old events stay stale.
 */
const vip: Group = { name: 'vip', segmentId: 'vip', listId: '1', contacts: 30 };
const optedOut: Group = { name: 'optout', segmentId: 'vip', listId: '1', contacts: 6 };
const groups = [vip, optedOut];
const ROUNDS = 7;
const KILL_ROUND = 4; // an add round: every vip contact re-enters after the service's unsubscribe in round 3

const w = world({ segments: ['vip'], simulator: { timeScale: 5, lists: [{ id: '1', name: 'VIP' }] } });

test('SIGKILL mid re-entry and a restart keep re-entries, opt-outs and staleness', async (t) => {
  const topic = await w.topic('ledger-crash', 3);
  const prefix = 'c-';
  const sim = w.sim;
  const opted = seedOptedOut(sim, prefix, optedOut);
  const configFile = w.configFile(topic, { buffer: { lingerMs: 200 }, log: { level: 'info' } });
  const config = w.config(topic);
  const settled = (what: string) => w.committed(config, what, 120_000);
  const events: SourceEvent[] = [];
  let run = await w.run(configFile);
  const dlq = await w.reader(`${topic}.dlq`);
  for (let round = 0; round < ROUNDS; round++) {
    const batch = roundEvents(prefix, groups, round);
    events.push(...batch);
    const resubscribed = sim.snapshot().counters.byEndpoint['POST /contactLists'] ?? 0;
    await w.produce(topic, batch);
    if (round === KILL_ROUND) {
      await w.until(
        () => (sim.snapshot().counters.byEndpoint['POST /contactLists'] ?? 0) > resubscribed + 2,
        'some re-subscribes of the kill round',
        60_000,
        10,
      );
      await run.child.kill();
      assert.equal(run.child.proc.signalCode, 'SIGKILL');
      const done = (sim.snapshot().counters.byEndpoint['POST /contactLists'] ?? 0) - resubscribed;
      assert.equal(await w.caughtUp(config), false, 'killed before the round settled');
      t.diagnostic(`killed after ${done} of ${vip.contacts} re-subscribes of round ${round}`);
      run = await w.run(configFile);
      await waitForLog(run.child, 'Ledger partitions restored');
    }
    await settled(`round ${round} to settle`);
  }

  for (const [email, status] of statuses(sim, prefix, vip)) assert.equal(status, 1, `${email} ends subscribed`);
  for (const [email, status] of statuses(sim, prefix, optedOut))
    assert.equal(status, 2, `${email} opted out and stays unsubscribed`);
  assert.equal(sim.snapshot().counters.forcedResubscribes, 0);
  await w.drained(dlq, `${topic}.dlq`);
  assert.deepEqual(
    new Set(dlq.records.map(codeOf)),
    new Set([CONSENT_OPTED_OUT]),
    'only consent refusals are dead-lettered',
  );
  assert.deepEqual(
    new Set(dlq.records.map(emailIn)),
    new Set(opted),
    'every opted-out contact is in the dead-letter topic',
  );

  // The restarted process knows every change from the ledger topic: replays are stale, the simulator untouched.
  const before = await scrapedConsumed(run.port, 'stale');
  const written = writes(sim);
  const sample = events.filter((_, i) => i % 4 === 0);
  await w.produce(topic, [...sample, ...dlq.records.map(asSource)]);
  await settled('the replays to settle');
  assert.equal(
    (await scrapedConsumed(run.port, 'stale')) - before,
    sample.length + dlq.records.length,
    'each replayed event is skipped as stale',
  );
  assert.equal(writes(sim), written, 'the replays changed nothing in the simulator');

  run.child.proc.kill('SIGTERM');
  assert.equal((await run.child.exited).code, 0, `a clean stop:\n${run.child.stderr.slice(-5).join('\n')}`);
});
