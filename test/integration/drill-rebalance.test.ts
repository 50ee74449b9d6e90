import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AssignerProtocol } from 'kafkajs';
import { PREFIX } from '../../src/observability/metrics.js';
import { describeReport } from '../support/drill-oracle.js';
import { FlappingStream, poisonRecords, seededPairs, streamShape, type DrillEvent } from '../support/drill-stream.js';
import { DrillWorld, drillWorld, type Running } from '../support/drill-world.js';
import { eventually } from '../support/harness.js';

/**
 * Issue 13, rebalance drill: one member syncs a flapping stream; a second member joins mid-stream; the first
 * leaves with SIGTERM while its imports are in the air (accepted, not confirmed). The member that stays takes
 * the partitions over, fetches the unsettled events again and finishes. The same end conditions as every drill.
 */
const segments = ['vip', 'newsletter', 'churn', 'trial'];
const CONTACTS = 1_500;
const UNCONFIRMED = `${PREFIX}unconfirmed_imports`;

/** Members of the group, once it is stable, with how many partitions each was assigned. */
async function assignments(world: DrillWorld): Promise<number[]> {
  const { groups } = await world.admin.describeGroups([world.groupId]);
  if (groups[0]?.state !== 'Stable') return [];
  return groups[0].members.map(
    (m) => Object.values(AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment ?? {}).flat().length,
  );
}

/** Whether the member has imports accepted and not confirmed; `seen` keeps the last count read. */
async function inTheAir(world: DrillWorld, r: Running, seen: { unconfirmed: number }): Promise<boolean> {
  seen.unconfirmed = await world.metric(r, UNCONFIRMED);
  return seen.unconfirmed > 0;
}

// Time scale 5: an import stays unconfirmed for about half a second, long enough to leave while it is.
const w = drillWorld(segments, { timeScale: 5 });

test('rebalance drill: a member joins, the first leaves with imports in the air; every list ends exact', async (t) => {
  const world = await DrillWorld.create(w, { name: 'drill-rebalance', partitions: 4 });
  const stream = new FlappingStream({
    seed: 1331,
    prefix: 'rb-',
    contacts: CONTACTS,
    segments,
    unmapped: 0.03,
    firstRemove: 0.45,
    leave: 0.4,
    reenter: 0.55,
  });
  await world.seedOptedOut(seededPairs(1332, 'rb-', CONTACTS, [...world.listOf.values()], 40));
  const written: DrillEvent[] = [];
  const write = async (count: number, poison: number) => {
    const events = stream.next(count);
    written.push(...events);
    await world.produce([...events, ...poisonRecords('rb-', 2, poison)]);
  };

  await write(3_000, 0);
  const first = await world.start();
  const seen = { unconfirmed: 0 };
  await eventually(() => inTheAir(world, first, seen), 'the first member to have imports in the air', 60_000, 50);

  const second = await world.start();
  await eventually(
    async () => (await assignments(world)).filter((n) => n > 0).length === 2,
    'both members to own partitions',
    60_000,
    200,
  );
  await write(3_000, 2);
  await eventually(
    () => inTheAir(world, first, seen),
    'the first member to have imports in the air after the rebalance',
    60_000,
    20,
  );
  const { unconfirmed } = seen;
  first.child.proc.kill('SIGTERM');
  await write(1_500, 4);

  const left = await first.child.exited;
  t.diagnostic(
    `the first member left with ${unconfirmed} imports unconfirmed; exit ${left.code ?? left.signal}; last log: ${first.child.stderr.slice(-2).join(' | ')}`,
  );
  await world.settled('the member that stayed to settle the stream');
  t.diagnostic(`stream: ${JSON.stringify(streamShape(written))}`);
  const report = await world.verify();
  t.diagnostic(`counts: ${JSON.stringify(report.counts)}`);
  assert.equal(report.mismatches.length, 0, describeReport('rebalance', report));

  second.child.proc.kill('SIGTERM');
  assert.equal(
    (await second.child.exited).code,
    0,
    `a clean stop of the member that stayed:\n${second.child.stderr.slice(-5).join('\n')}`,
  );
});
