import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Config } from '../../src/config/schema.js';
import { parseFrom } from '../../src/replay/from.js';
import { runReplay } from '../../src/replay/run.js';
import { quietLog, testConfig, type Simulator } from '../support/harness.js';
import { world } from '../support/world.js';

/**
 * A backfill into a new account: the live sync fills one simulator from 50,000 events; a replay from earliest
 * with the ledger's rebuild option fills a fresh simulator to the same membership; a second replay, without the
 * option, over that now up-to-date account sends nothing (the ledger holds every change as applied).
 * Limits are off and time runs 20× faster: this test is about state, the beside-live test about limits.
 */
const segments = ['vip', 'newsletter', 'churn'];
const EVENTS = 50_000;
const w = world({ segments, simulator: false });
const newSim = () =>
  w.simulator({
    timeScale: 20,
    limits: { enabled: false },
    lists: segments.map((_, i) => ({ id: String(i + 1), name: `L${i + 1}` })),
  });

/** list → email → status, the part of the simulator's state that membership is. */
function membership(sim: Simulator): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const [id, list] of Object.entries(sim.snapshot().lists))
    out[id] = Object.fromEntries(Object.entries(list.members).map(([email, m]) => [email, m.status]));
  return out;
}

function withReplayShare(config: Config): Config {
  return { ...config, connections: { main: { ...config.connections.main!, replayShare: 0.5 } } };
}

test(`a replay from earliest of ${EVENTS.toLocaleString('en-US')} events with the ledger rebuilt fills a fresh account to the live run's membership; without the option it sends nothing to an account that is up to date`, async () => {
  const topic = await w.topic('replay-50k', 3);
  const expected = await w.produceSample(topic, { events: EVENTS, segments, seed: 3 });

  // The live run, into the first account.
  const live = await newSim();
  const liveConfig = withReplayShare(testConfig(topic, live, segments));
  const service = await w.start(liveConfig);
  await w.membership(expected, 'the live run to reach the expected membership', { sim: live, timeoutMs: 120_000 });
  await w.committed(service, 'the live run to commit to the end');
  await service.stop();
  const liveMembership = membership(live);

  // A fresh account, filled by a replay that rebuilds the ledger of its connection.
  const fresh = await newSim();
  const freshConfig = withReplayShare(testConfig(topic, fresh, segments));
  const rebuilt = await runReplay(freshConfig, {
    from: parseFrom('earliest'),
    log: quietLog(),
    service: { rebuildLedger: ['main'] },
  });
  assert.equal(rebuilt.exitCode, 0, 'complete, nothing dead-lettered');
  assert.equal(rebuilt.summary.events.consumed, EVENTS);
  assert.ok(rebuilt.summary.events.delivered > 0);
  assert.deepEqual(membership(fresh), liveMembership, "the fresh account ends in the live run's membership");
  assert.ok(Object.values(liveMembership['1']!).filter((s) => s === 1).length > 1_000, 'a membership worth comparing');

  // The same range again, without the option: the account is up to date, so nothing is sent.
  const before = fresh.snapshot().counters;
  const again = await runReplay(freshConfig, { from: parseFrom('earliest'), log: quietLog() });
  const afterwards = fresh.snapshot().counters;
  assert.equal(again.exitCode, 0);
  assert.equal(again.summary.events.consumed, EVENTS);
  assert.equal(again.summary.events.delivered, 0);
  assert.equal(afterwards.importsAccepted - before.importsAccepted, 0, 'no bulk import');
  assert.equal(
    afterwards.byEndpoint['POST /import/bulk_import'] ?? 0,
    before.byEndpoint['POST /import/bulk_import'] ?? 0,
    'no bulk import request at all',
  );
  assert.deepEqual(membership(fresh), liveMembership);
});
