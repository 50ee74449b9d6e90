import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CRASH_AT_ENV, CRASH_POINTS, CRASH_REPORT_ENV, type CrashPointName } from '../../src/crash-points.js';
import { mulberry32 } from '../../src/dev/sample/events.js';
import { describeReport } from '../support/drill-oracle.js';
import { FlappingStream, poisonRecords, seededPairs, streamShape, type DrillEvent } from '../support/drill-stream.js';
import { DrillWorld, drillWorld, type Running } from '../support/drill-world.js';

/**
 * Issue 13, crash drill: a seeded flapping stream with re-entries over several lists, some contacts seeded as
 * having unsubscribed themselves, and the service SIGKILLed at KILLS seeded crash points (every named point at
 * least once, through AC_LIST_SYNC_CRASH_AT), restarted after each, then let run to the end. Each leg is a new
 * process that first gets a new chunk of the stream, so every leg has imports, intents and letters to make. A
 * first leg without a kill settles its chunk, so that a ledger exists for the restore point to fall in.
 *
 * A leg whose point was not reached ends when everything settled; that is a failure of the drill (a point not
 * covered), reported at the end with the state checks. If no leg so far reached any crash point at all (a build
 * without them), later legs are SIGKILLed by the test itself once the leg committed something and a seeded
 * number of imports was accepted, so the end conditions still face crashes; the drill fails anyway for the
 * missing points.
 */
const segments = ['vip', 'newsletter', 'churn', 'trial'];
const CONTACTS = 1_500;
const KILLS = 10;
const CHUNK = 1_000;
const SEED = 1321;

interface Kill {
  name: CrashPointName;
  n: number;
}

/** Every named point once, then seeded ones; n seeded for the points a leg reaches often. */
function schedule(): Kill[] {
  const rand = mulberry32(SEED);
  const frequent = new Set<CrashPointName>(['intent-written', 'import-accepted', 'confirmed-before-ledger']);
  const names = [...CRASH_POINTS];
  for (let i = names.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [names[i], names[j]] = [names[j]!, names[i]!];
  }
  while (names.length < KILLS) names.push(CRASH_POINTS[Math.floor(rand() * CRASH_POINTS.length)]!);
  return names.map((name) => ({ name, n: frequent.has(name) ? 1 + Math.floor(rand() * 3) : 1 }));
}

const reached = (file: string): string[] =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];

type LegEnd = 'exited' | 'settled' | 'fallback';

// It failed now and then in session 2: one contact that never unsubscribed itself was refused on a re-entry. Its
// first remove found no contact (recorded, nothing sent), the next created the membership unsubscribed, a third
// repeated it, and the absent one had been kept as the earlier window: the date ActiveCampaign kept fell in
// neither window (test/ledger/decide.test.ts reproduces it; such records are `unapplied` now).
const w = drillWorld(segments, { timeScale: 20 });

test('crash drill: SIGKILL at every named crash point and restarts leave every list exact', async (t) => {
  const world = await DrillWorld.create(w, { name: 'drill-crash', partitions: 3 });
  const reports = mkdtempSync(join(tmpdir(), 'drill-crash-'));
  const rand = mulberry32(SEED + 1);
  const problems: string[] = [];
  const fired: CrashPointName[] = [];
  let anyPointReached = false;
  const stream = new FlappingStream({
    seed: SEED,
    prefix: 'cr-',
    contacts: CONTACTS,
    segments,
    unmapped: 0.03,
    firstRemove: 0.45,
    leave: 0.4,
    reenter: 0.55,
  });
  await world.seedOptedOut(seededPairs(SEED + 2, 'cr-', CONTACTS, [...world.listOf.values()], 50));
  const written: DrillEvent[] = [];

  const warmUp = stream.next(CHUNK);
  written.push(...warmUp);
  await world.produce([...warmUp, ...poisonRecords('cr-', 2, 1_000)]);
  const first = await world.start({ [CRASH_REPORT_ENV]: join(reports, 'warm-up.txt') });
  await world.settled('the first chunk to settle');
  anyPointReached = reached(join(reports, 'warm-up.txt')).length > 0;
  first.child.proc.kill('SIGTERM');
  await first.child.exited;

  for (const [leg, kill] of schedule().entries()) {
    const chunk = stream.next(CHUNK);
    written.push(...chunk);
    await world.produce([...chunk, ...poisonRecords('cr-', 2, leg * 2)]);
    const report = join(reports, `leg-${leg}.txt`);
    const accepted = world.sim.snapshot().counters.importsAccepted;
    const committed = await world.committedTotal();
    const fallbackAfter = anyPointReached ? Infinity : 1 + Math.floor(rand() * 4);
    const fallback = async () =>
      world.sim.snapshot().counters.importsAccepted - accepted >= fallbackAfter &&
      (await world.committedTotal()) > committed;
    const running = await world.start({ [CRASH_AT_ENV]: `${kill.name}:${kill.n}`, [CRASH_REPORT_ENV]: report });
    const end = await legEnd(world, running, fallback);
    const lines = reached(report);
    if (lines.length > 0) anyPointReached = true;
    const counts = Object.fromEntries(CRASH_POINTS.map((p) => [p, lines.filter((l) => l === p).length]));
    if (end === 'exited') {
      const { signal, code } = await running.child.exited;
      if (signal !== 'SIGKILL' || lines.at(-1) !== kill.name)
        throw new Error(
          `leg ${leg} (${kill.name}:${kill.n}) exited with ${signal ?? code}, last point reached ${lines.at(-1) ?? 'none'}:\n${running.child.stderr.slice(-10).join('\n')}`,
        );
      fired.push(kill.name);
    } else {
      problems.push(
        `leg ${leg}: crash point ${kill.name}:${kill.n} was not reached (${end === 'settled' ? 'the leg settled' : 'killed by the test instead'}; reaches ${JSON.stringify(counts)})`,
      );
      if (end === 'settled') {
        running.child.proc.kill('SIGTERM');
        await running.child.exited;
      }
    }
    t.diagnostic(
      `leg ${leg}: ${kill.name}:${kill.n} → ${end}; reaches ${JSON.stringify(counts)}; ${await world.progress()}`,
    );
  }

  // The last leg: no crash armed (reaches still reported), run to the end.
  const report = join(reports, 'final.txt');
  const last = await world.start({ [CRASH_REPORT_ENV]: report });
  await world.settled('the stream to settle after the last restart');
  const finalReaches = reached(report);
  t.diagnostic(
    `final leg reaches ${JSON.stringify(Object.fromEntries(CRASH_POINTS.map((p) => [p, finalReaches.filter((l) => l === p).length])))}`,
  );
  t.diagnostic(`stream: ${JSON.stringify(streamShape(written))}; fired ${fired.length} kills: ${fired.join(', ')}`);

  for (const name of CRASH_POINTS) if (!fired.includes(name)) problems.push(`no kill at crash point ${name}`);
  if (fired.length < KILLS) problems.push(`${fired.length} kills at crash points, ${KILLS} planned`);
  const state = await world.verify();
  t.diagnostic(`counts: ${JSON.stringify(state.counts)}`);
  const message = [
    `crash drill: ${problems.length} problems with the crash points`,
    ...problems.map((p) => `  - ${p}`),
    describeReport('end state', state),
  ].join('\n');
  assert.equal(problems.length + state.mismatches.length, 0, message);

  last.child.proc.kill('SIGTERM');
  assert.equal(
    (await last.child.exited).code,
    0,
    `a clean stop after the last restart:\n${last.child.stderr.slice(-5).join('\n')}`,
  );
});

/** Waits until the leg's process exits, or everything is settled, or the fallback trigger holds (then SIGKILLs it). */
async function legEnd(
  world: DrillWorld,
  running: Running,
  fallback: () => Promise<boolean>,
  timeoutMs = 120_000,
): Promise<LegEnd> {
  let exited = false;
  void running.child.exited.then(() => (exited = true));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) return 'exited';
    if (await fallback()) {
      await running.child.kill();
      return 'fallback';
    }
    if ((await world.caughtUp()) && world.simIdle()) return exited ? 'exited' : 'settled';
    if (Date.now() > deadline)
      throw new Error(
        `a leg neither crashed nor settled within ${timeoutMs} ms (${await world.progress()}):\n${running.child.stderr.slice(-10).join('\n')}`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
}
