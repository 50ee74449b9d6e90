import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { histogramQuantile, parseMetrics, sumBy, total } from '../../src/observability/scrape.js';

test('parses what prom-client serves: labels with escapes, histograms, +Inf', async () => {
  const registry = new Registry();
  const c = new Counter({ name: 'x_total', help: 'h', labelNames: ['a'], registers: [registry] });
  c.inc({ a: 'plain' }, 2);
  c.inc({ a: 'quote " back \\ slash\nnewline' }, 3);
  const h = new Histogram({ name: 'lat_seconds', help: 'h', buckets: [1, 2, 4], registers: [registry] });
  for (const v of [0.5, 1.5, 1.5, 3, 10]) h.observe(v);
  const samples = parseMetrics(await registry.metrics());
  assert.equal(total(samples, 'x_total'), 5);
  assert.equal(sumBy(samples, 'x_total', ['a']).get('quote " back \\ slash\nnewline'), 3);
  assert.deepEqual(samples.find((s) => s.name === 'lat_seconds_bucket' && s.labels.le === '+Inf')?.value, 5);
  assert.equal(total(samples, 'lat_seconds_count'), 5);
});

test('histogramQuantile interpolates within the bucket and answers undefined for an empty histogram', () => {
  const samples = parseMetrics(['h_bucket{le="1"} 0', 'h_bucket{le="2"} 10', 'h_bucket{le="+Inf"} 10'].join('\n'));
  assert.equal(histogramQuantile(samples, 'h', 0.5), 1.5);
  assert.equal(histogramQuantile(parseMetrics('h_bucket{le="+Inf"} 0'), 'h', 0.5), undefined);
});

test('malformed lines are skipped, not guessed', () => {
  const samples = parseMetrics(
    ['# HELP a b', 'good 1', 'bad{a="x} 2', 'also_bad{=""} 3', 'nan NaN', 'notanumber abc'].join('\n'),
  );
  assert.deepEqual(
    samples.map((s) => s.name),
    ['good', 'nan'],
  );
});
