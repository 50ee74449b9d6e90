import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runToExit } from '../support/cli.js';
import { uniqueTopic } from '../support/harness.js';
import { world } from '../support/world.js';

/**
 * `replay` as an operator runs it, a child process whose stdout is a pipe (not a terminal): plain progress
 * lines at the interval, then the summary; exit 4 because something was dead-lettered; the live group refused.
 */
const w = world({ segments: ['vip', 'newsletter'], simulator: { timeScale: 5 } });
/** main with a replay share: the replay may use half of its budget. */
const sharing = () => ({
  connections: {
    main: { apiUrl: w.sim.url, apiKey: { value: w.sim.options.apiToken }, privacyAcknowledged: true, replayShare: 0.5 },
  },
});

test('off a terminal the replay prints progress lines at the interval and a summary, and exits 4 when something was dead-lettered', async () => {
  const topic = await w.topic('replay-cli', 2);
  await w.produceSample(topic, { events: 3_000, segments: w.segments, seed: 11 });
  await w.produce(topic, [{ key: 'p-x', value: 'not json' }]);
  const file = w.configFile(topic, { ...sharing(), log: { level: 'warn' } });

  const run = await runToExit(['replay', '--config', file, '--from', 'earliest', '--progress-interval', '0.2'], 90_000);
  const out = run.stdout.join('\n');
  assert.equal(run.code, 4, `exit 4: complete, one record dead-lettered\n${out}\n${run.stderr.slice(-5).join('\n')}`);
  const lines = run.stdout.filter((l) => l.startsWith('replay progress: '));
  assert.ok(lines.length >= 2, `progress lines at the interval, then the last one:\n${out}`);
  assert.match(
    lines.at(-1)!,
    /^replay progress: 3,001 of 3,001 events \(100\.0%\), [\d,]+ events\/s, ETA 0:00, elapsed \d+:\d\d$/,
  );
  assert.ok(!out.includes('\r') && !out.includes('\u001b['), 'no terminal control characters in a pipe');
  assert.match(out, /Replay complete\./);
  assert.match(out, new RegExp(`Consumer group: +${topic}-g-replay-\\d{8}T\\d{6}Z`));
  // A fresh account: removes of contacts it never had are settled unsent (skipped), everything else delivered.
  const events =
    /Events: +3,001 consumed of 3,001 offsets in range \(delivered ([\d,]+), dead-lettered 1, skipped ([\d,]+)\)/.exec(
      out,
    );
  assert.ok(events, out);
  assert.equal(
    Number(events[1]!.replace(/,/g, '')) + Number(events[2]!.replace(/,/g, '')),
    3_000,
    'each good event delivered or skipped',
  );
  assert.match(out, /List 1 \(vip, main\): [\d,]+ changes delivered, [\d,]+ contacts/);
  assert.match(out, /Dead letters: +decode\/NOT_JSON 1/);
  assert.match(
    out,
    /API requests: +\d+ \(bulk_import \d+, (contacts \d+, )?fields \d+, import_info \d+, list \d+\), \d+ answered 429/,
  );
  assert.ok(
    run.stderr.every((l) => !l.includes('"level":50') || l.includes('dead-letter') || l.includes('refused')),
    'no unexpected errors logged',
  );
});

test('the replay refuses the live consumer group, a connection without a replay share, an unknown connection to rebuild and a bad --from, with one line and exit 2', async () => {
  const topic = uniqueTopic('replay-cli-refused');
  const shared = w.configFile(topic, sharing());
  const live = await runToExit(['replay', '--config', shared, '--from', 'earliest', '--group', `${topic}-g`], 30_000);
  assert.equal(live.code, 2);
  assert.match(live.stderr.join('\n'), /--group ".*-g" is the live sync's consumer group/);
  const noShare = await runToExit(['replay', '--config', w.configFile(topic), '--from', 'earliest'], 30_000);
  assert.equal(noShare.code, 2);
  assert.match(noShare.stderr.join('\n'), /^ac-list-sync: config connections\.main\.replayShare: is 0/);
  const badRebuild = await runToExit(
    ['replay', '--config', shared, '--from', 'earliest', '--rebuild-ledger', 'main,nope'],
    30_000,
  );
  assert.equal(badRebuild.code, 2);
  assert.match(badRebuild.stderr.join('\n'), /--rebuild-ledger names "nope", which is not one of connections \(main\)/);
  const badFrom = await runToExit(['replay', '--config', shared, '--from', 'yesterday'], 30_000);
  assert.equal(badFrom.code, 2);
  assert.match(badFrom.stderr.join('\n'), /--from must be "earliest", an ISO timestamp/);
});
