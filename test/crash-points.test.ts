import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  CRASH_AT_ENV,
  CRASH_POINTS,
  CRASH_REPORT_ENV,
  createCrashPoints,
  parseCrashPlan,
  type CrashPointName,
} from '../src/crash-points.js';

const MODULE = new URL('../src/crash-points.js', import.meta.url).href;

test('parseCrashPlan reads a comma-separated list of name:n', () => {
  assert.deepEqual(
    [...parseCrashPlan('import-accepted:3, intent-written:1')],
    [
      ['import-accepted', 3],
      ['intent-written', 1],
    ],
  );
  assert.deepEqual(
    [...parseCrashPlan('ledger-restore-mid:4,ledger-restore-mid:2')],
    [['ledger-restore-mid', 2]],
    'the smallest n of a repeated name',
  );
  assert.equal(parseCrashPlan(undefined).size, 0);
  assert.equal(parseCrashPlan('  ').size, 0);
});

test('parseCrashPlan refuses unknown names and bad counts, naming the entry', () => {
  assert.throws(
    () => parseCrashPlan('import-acepted:1'),
    /unknown crash point "import-acepted"; known: intent-written, /,
  );
  assert.throws(() => parseCrashPlan('import-accepted:0'), /"import-accepted:0" is not "<name>:<n>" with n ≥ 1/);
  assert.throws(() => parseCrashPlan('import-accepted'), /"import-accepted" is not "<name>:<n>"/);
  assert.throws(() => parseCrashPlan('intent-written:1,,'), /"" is not/);
});

function fakeIo() {
  const io = {
    kills: 0,
    lines: [] as string[],
    kill: () => void io.kills++,
    append: (_file: string, line: string) => void io.lines.push(line),
  };
  return io;
}

test('a crash point kills on its n-th reach and reports every reach before the kill', () => {
  const io = fakeIo();
  const points = createCrashPoints({ [CRASH_AT_ENV]: 'import-accepted:3', [CRASH_REPORT_ENV]: '/report' }, io);
  points.reach('import-accepted');
  points.reach('intent-written');
  points.reach('import-accepted');
  assert.equal(io.kills, 0, 'not before the 3rd reach');
  points.reach('import-accepted');
  assert.equal(io.kills, 1);
  assert.deepEqual(
    io.lines,
    ['import-accepted\n', 'intent-written\n', 'import-accepted\n', 'import-accepted\n'],
    'the killing reach is reported too',
  );
  assert.equal(points.counts()['import-accepted'], 3);
  assert.equal(points.counts()['intent-written'], 1);
});

test('with neither variable set nothing is counted, reported or killed', () => {
  const io = fakeIo();
  const points = createCrashPoints({}, io);
  for (const name of CRASH_POINTS) points.reach(name);
  assert.equal(io.kills, 0);
  assert.deepEqual(io.lines, []);
  assert.deepEqual(
    Object.values(points.counts()),
    CRASH_POINTS.map(() => 0),
  );
});

test('a report alone counts and reports without killing; a plan alone kills without reporting', () => {
  const reportOnly = fakeIo();
  const counted = createCrashPoints({ [CRASH_REPORT_ENV]: '/report' }, reportOnly);
  for (let i = 0; i < 5; i++) counted.reach('ledger-restore-mid');
  assert.equal(reportOnly.kills, 0);
  assert.equal(reportOnly.lines.length, 5);
  assert.equal(counted.counts()['ledger-restore-mid'], 5);

  const planOnly = fakeIo();
  createCrashPoints({ [CRASH_AT_ENV]: 'dead-letter-acked-before-commit:1' }, planOnly).reach(
    'dead-letter-acked-before-commit',
  );
  assert.equal(planOnly.kills, 1);
  assert.deepEqual(planOnly.lines, []);
});

/** A child process that reaches each of `names` in order, then prints "survived". */
function child(names: CrashPointName[], env: NodeJS.ProcessEnv) {
  const script = `import { crashPoint } from ${JSON.stringify(MODULE)};\nfor (const n of ${JSON.stringify(names)}) crashPoint(n);\nprocess.stdout.write('survived');`;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, ...env },
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
    (resolve) => proc.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
}

const reportFile = () => join(mkdtempSync(join(tmpdir(), 'crash-points-')), 'reached.txt');

test('a process SIGKILLs itself at the armed reach, and its report survives the kill', async () => {
  const report = reportFile();
  const names: CrashPointName[] = [
    'intent-written',
    'import-accepted',
    'import-accepted',
    'confirmed-before-ledger',
    'import-accepted',
    'import-accepted',
  ];
  const r = await child(names, { [CRASH_AT_ENV]: 'import-accepted:3', [CRASH_REPORT_ENV]: report });
  assert.equal(r.signal, 'SIGKILL', `killed by the crash point (code ${r.code}, stderr ${r.stderr})`);
  assert.equal(r.stdout, '', 'nothing after the kill ran');
  assert.deepEqual(readFileSync(report, 'utf8').split('\n'), [
    'intent-written',
    'import-accepted',
    'import-accepted',
    'confirmed-before-ledger',
    'import-accepted',
    '',
  ]);
});

test('the first armed point of a list that is reached kills the process', async () => {
  const report = reportFile();
  const r = await child(['ledger-restore-mid', 'dead-letter-acked-before-commit', 'ledger-restore-mid'], {
    [CRASH_AT_ENV]: 'ledger-restore-mid:2,dead-letter-acked-before-commit:1',
    [CRASH_REPORT_ENV]: report,
  });
  assert.equal(r.signal, 'SIGKILL');
  assert.deepEqual(readFileSync(report, 'utf8').trim().split('\n'), [
    'ledger-restore-mid',
    'dead-letter-acked-before-commit',
  ]);
});

test('a process with the points disarmed runs through them', async () => {
  const r = await child(['intent-written', 'import-accepted'], {});
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'survived');
});

test('a point armed beyond the reaches of a run never fires', async () => {
  const report = reportFile();
  const r = await child(['intent-written', 'intent-written'], {
    [CRASH_AT_ENV]: 'intent-written:3',
    [CRASH_REPORT_ENV]: report,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'survived');
  assert.equal(readFileSync(report, 'utf8'), 'intent-written\nintent-written\n');
});

test('a process with a misspelt plan stops at load, naming the entry', async () => {
  const r = await child(['intent-written'], { [CRASH_AT_ENV]: 'intent-writen:1' });
  assert.notEqual(r.code, 0);
  assert.equal(r.signal, null);
  assert.match(r.stderr, /AC_LIST_SYNC_CRASH_AT: unknown crash point "intent-writen"/);
});
