import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatDuration,
  progressBar,
  progressLine,
  progressReporter,
  RateMeter,
  viewOf,
} from '../../src/replay/progress.js';

test('rate over the recent window, and the ETA it implies', () => {
  const meter = new RateMeter(10_000);
  assert.equal(meter.rate, 0);
  meter.push(0, 0);
  meter.push(1_000, 500);
  meter.push(2_000, 1_000);
  assert.equal(meter.rate, 500);
  meter.push(30_000, 1_000); // a long stall: the old samples leave the window
  assert.equal(meter.rate, 0);
  const v = viewOf({ done: 1_000, total: 4_000 }, 500, 2);
  assert.equal(v.etaSeconds, 6);
  assert.equal(viewOf({ done: 1, total: 4 }, 0, 1).etaSeconds, undefined);
  assert.equal(viewOf({ done: 4, total: 4 }, 0, 1).etaSeconds, 0);
});

test('the plain line and the bar say done of total, percent, rate and ETA', () => {
  const v = viewOf({ done: 12_345, total: 50_000 }, 1_234.4, 75);
  assert.equal(
    progressLine(v),
    'replay progress: 12,345 of 50,000 events (24.7%), 1,234 events/s, ETA 0:31, elapsed 1:15',
  );
  assert.equal(progressBar(v, 10), '[##--------]  24.7%  12,345/50,000 events  1,234/s  ETA 0:31');
  assert.equal(progressBar(viewOf({ done: 0, total: 0 }, 0, 0), 4), '[####] 100.0%  0/0 events  0/s  ETA 0:00');
  assert.equal(formatDuration(3_725), '1:02:05');
});

test('off a terminal: one line per interval and one at the end; on a terminal: the bar redrawn in place', () => {
  let t = 0;
  const lines: string[] = [];
  const plain = progressReporter({ write: (s) => lines.push(s) }, { intervalMs: 5_000, now: () => t });
  for (t = 0; t <= 12_000; t += 500) plain.update({ done: t, total: 20_000 });
  plain.finish({ done: 20_000, total: 20_000 });
  assert.equal(lines.length, 3, `two interval lines and the last: ${lines.join('')}`);
  assert.ok(lines.every((l) => l.startsWith('replay progress: ') && l.endsWith('\n')));
  assert.match(lines[0]!, /5,000 of 20,000 events \(25\.0%\), 1,000 events\/s/);
  assert.match(lines[2]!, /20,000 of 20,000 events \(100\.0%\)/);

  const screen: string[] = [];
  t = 0;
  const bar = progressReporter(
    { write: (s) => screen.push(s), isTTY: true },
    { intervalMs: 5_000, redrawMs: 250, now: () => t },
  );
  for (t = 0; t <= 1_000; t += 100) bar.update({ done: t, total: 1_000 });
  bar.finish({ done: 1_000, total: 1_000 });
  assert.ok(
    screen.length >= 4 && screen.every((s) => s.startsWith('\r\u001b[2K[')),
    'each redraw returns to the line start',
  );
  assert.ok(screen.at(-1)!.endsWith('\n'));
});
