import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { createMetrics } from '../../src/observability/metrics.js';
import {
  ALERTS_PATH,
  DASHBOARD_PATH,
  alertRules,
  dashboardExpressions,
  metricNames,
} from '../support/observability.js';

/** Families the registry defines, with the sample names a histogram or summary adds. */
async function exportedNames(): Promise<Set<string>> {
  const metrics = createMetrics();
  const names = new Set<string>();
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
    if (String(m.type) === 'summary') for (const s of ['_sum', '_count']) names.add(m.name + s);
  }
  return names;
}

test('the dashboard covers what an operator watches, and every query names one of our metrics', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as {
    uid: string;
    panels: { title: string; type: string; targets?: { expr: string }[] }[];
  };
  assert.equal(dashboard.uid, 'ac-list-sync');
  const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join(' | ');
  for (const topic of [
    'throughput',
    'lag',
    'p50 / p99',
    'buffer depth',
    'api status mix',
    '429',
    'rate-budget',
    'dead-letter rate',
    'import failures',
  ]) {
    assert.ok(titles.includes(topic), `no panel about ${topic}: ${titles}`);
  }
  for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
    assert.ok(panel.targets?.length, `panel "${panel.title}" has no query`);
    for (const t of panel.targets!)
      assert.match(t.expr, /ac_list_sync_/, `panel "${panel.title}" queries no metric of ours: ${t.expr}`);
  }
});

test('every metric name in the dashboard and the alert rules is defined by src/observability/metrics.ts', async () => {
  const exported = await exportedNames();
  const used = metricNames([...dashboardExpressions(), ...alertRules().map((r) => r.expr)]);
  assert.ok(used.size >= 20, `only ${used.size} names found: the extraction is broken`);
  const unknown = [...used].filter((n) => !exported.has(n));
  assert.deepEqual(unknown, [], `queried but not exported: ${unknown.join(', ')}`);
});

test('the extraction finds a misspelt name (the check can fail)', async () => {
  const exported = await exportedNames();
  const used = metricNames(['sum(rate(ac_list_sync_dead_leters_total[5m]))']);
  assert.deepEqual(
    [...used].filter((n) => !exported.has(n)),
    ['ac_list_sync_dead_leters_total'],
  );
  assert.ok(readFileSync(ALERTS_PATH, 'utf8').includes('groups:'));
});
