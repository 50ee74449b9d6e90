import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { parse, stringify } from 'yaml';
import { ALERTS_PATH, alertRules } from '../support/observability.js';

/**
 * promtool comes from Debian's `prometheus` package (scripts/ci-tools.sh installs it). Without it a developer's
 * run skips with a message; under CI it is a failure, so the check cannot silently vanish.
 */
function promtool(t: TestContext): boolean {
  if (spawnSync('promtool', ['--version']).status === 0) return true;
  if (process.env.CI) assert.fail('promtool is not installed (CI): scripts/ci-tools.sh should have installed it');
  t.skip(
    'promtool is not installed: run `bash scripts/ci-tools.sh` (Debian package prometheus) to check the alert rules',
  );
  return false;
}

function run(args: string[]): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

test('promtool check rules passes on the alert rules', (t) => {
  if (!promtool(t)) return;
  const { status, output } = run(['check', 'rules', ALERTS_PATH]);
  assert.equal(status, 0, output);
  assert.match(output, new RegExp(`SUCCESS: ${alertRules().length} rules found`));
});

test('promtool check rules fails on a broken rule (the check can fail)', (t) => {
  if (!promtool(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'alerts-'));
  try {
    writeFileSync(
      join(dir, 'bad.yml'),
      'groups:\n  - name: x\n    rules:\n      - alert: Bad\n        expr: sum by (job) (rate(ac_list_sync_dead_letters_total[5m]) >\n',
    );
    assert.notEqual(run(['check', 'rules', join(dir, 'bad.yml')]).status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

interface Case {
  alert: string;
  series: [string, string][];
  quietAt?: string;
  firesAt: string;
  labels: Record<string, string>;
  /** Series that must not fire it. */
  negative?: [string, string][];
}

const L = 'job="sync",instance="a"';
const cases: Case[] = [
  {
    alert: 'AcListSyncLagGrowing',
    series: [[`ac_list_sync_consumer_lag_messages{${L},topic="t",partition="0"}`, '0+200x40']],
    quietAt: '10m',
    firesAt: '30m',
    labels: { severity: 'warning', job: 'sync', topic: 't' },
    negative: [[`ac_list_sync_consumer_lag_messages{${L},topic="t",partition="0"}`, '5000x40']],
  },
  {
    alert: 'AcListSyncDeadLetterRate',
    series: [
      [`ac_list_sync_dead_letters_total{${L},stage="validate",code="INVALID_EVENT"}`, '0+60x30'],
      [`ac_list_sync_events_consumed_total{${L},topic="t",result="delivered"}`, '0+600x30'],
    ],
    firesAt: '25m',
    labels: { severity: 'warning', job: 'sync' },
    negative: [
      [`ac_list_sync_dead_letters_total{${L},stage="validate",code="INVALID_EVENT"}`, '0+1x30'],
      [`ac_list_sync_events_consumed_total{${L},topic="t",result="delivered"}`, '0+6000x30'],
    ],
  },
  {
    alert: 'AcListSyncAuthFailure',
    series: [[`ac_list_sync_token_accepted{${L},connection="main"}`, '1 1 0 0 0 0 0 0']],
    quietAt: '1m',
    firesAt: '6m',
    labels: { severity: 'critical', job: 'sync', connection: 'main' },
    negative: [[`ac_list_sync_token_accepted{${L},connection="main"}`, '1x8']],
  },
  {
    alert: 'AcListSyncNoSuccessfulFlush',
    series: [
      [`ac_list_sync_buffered_contacts{${L},connection="main"}`, '10x40'],
      [`ac_list_sync_last_successful_flush_timestamp_seconds{${L},connection="main"}`, '0x40'],
    ],
    quietAt: '10m',
    firesAt: '25m',
    labels: { severity: 'critical', job: 'sync', connection: 'main' },
    negative: [
      [`ac_list_sync_buffered_contacts{${L},connection="main"}`, '10x40'],
      [`ac_list_sync_last_successful_flush_timestamp_seconds{${L},connection="main"}`, '0+60x40'],
    ],
  },
  {
    alert: 'AcListSync429Storm',
    series: [
      [`ac_list_sync_api_throttled_total{${L},connection="main",code="RATE_LIMITED"}`, '0+30x30'],
      [`ac_list_sync_api_requests_total{${L},connection="main",endpoint="bulk_import",status="200"}`, '0+60x30'],
    ],
    firesAt: '20m',
    labels: { severity: 'warning', job: 'sync', connection: 'main' },
    negative: [
      [`ac_list_sync_api_throttled_total{${L},connection="main",code="RATE_LIMITED"}`, '0+1x30'],
      [`ac_list_sync_api_requests_total{${L},connection="main",endpoint="bulk_import",status="200"}`, '0+600x30'],
    ],
  },
  {
    alert: 'AcListSyncImportFailures',
    series: [[`ac_list_sync_import_confirmations_total{${L},connection="main",status="failed"}`, '0+1x60']],
    firesAt: '40m',
    labels: { severity: 'warning', job: 'sync', connection: 'main' },
  },
  {
    alert: 'AcListSyncNotReady',
    series: [[`ac_list_sync_ready{${L}}`, '0x20']],
    quietAt: '5m',
    firesAt: '15m',
    labels: { severity: 'warning', job: 'sync', instance: 'a' },
  },
  {
    alert: 'AcListSyncWriterStuck',
    series: [[`ac_list_sync_writer_stuck_records{${L},writer="dead_letter"}`, '0 0 1x20']],
    quietAt: '4m',
    firesAt: '10m',
    labels: { severity: 'critical', job: 'sync', writer: 'dead_letter' },
    // Stuck for less than 5 minutes: written after a retry.
    negative: [[`ac_list_sync_writer_stuck_records{${L},writer="dead_letter"}`, '0 1 1 1 0x20']],
  },
];

test('every alert rule has a firing case and a quiet case below', () => {
  assert.deepEqual(
    cases.map((c) => c.alert).sort(),
    alertRules()
      .map((r) => r.alert)
      .sort(),
  );
});

test('promtool test rules: each alert fires on the situation it names and stays quiet otherwise', (t) => {
  if (!promtool(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'alerts-'));
  try {
    // Annotations are prose; promtool compares them verbatim, so the test runs on the same rules without them.
    const doc = parse(readFileSync(ALERTS_PATH, 'utf8')) as { groups: { rules: Record<string, unknown>[] }[] };
    for (const g of doc.groups) for (const r of g.rules) delete r.annotations;
    writeFileSync(join(dir, 'rules.yml'), stringify(doc));
    const series = (s: [string, string][]) => s.map(([name, values]) => ({ series: name, values }));
    const tests = cases.flatMap((c) => [
      {
        interval: '1m',
        input_series: series(c.series),
        alert_rule_test: [
          ...(c.quietAt ? [{ eval_time: c.quietAt, alertname: c.alert, exp_alerts: [] }] : []),
          { eval_time: c.firesAt, alertname: c.alert, exp_alerts: [{ exp_labels: c.labels }] },
        ],
      },
      ...(c.negative
        ? [
            {
              interval: '1m',
              input_series: series(c.negative),
              alert_rule_test: [{ eval_time: c.firesAt, alertname: c.alert, exp_alerts: [] }],
            },
          ]
        : []),
    ]);
    writeFileSync(join(dir, 'tests.yml'), stringify({ rule_files: ['rules.yml'], evaluation_interval: '1m', tests }));
    const { status, output } = run(['test', 'rules', join(dir, 'tests.yml')]);
    assert.equal(status, 0, output);
    assert.match(output, /SUCCESS/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
