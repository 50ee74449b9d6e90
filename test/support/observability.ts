import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { createLogger, type Logger } from '../../src/observability/logger.js';
import { parseMetrics, type Sample } from '../../src/observability/scrape.js';

/** The dashboard and alert rules the deployment provisions, and the metric names their expressions use. */
const root = fileURLToPath(new URL('../../../', import.meta.url));
export const DASHBOARD_PATH = `${root}helm/ac-list-sync/files/grafana-dashboard.json`;
export const ALERTS_PATH = `${root}helm/ac-list-sync/files/prometheus-alerts.yml`;

/** Every PromQL expression of the dashboard: panel targets and template-variable queries. */
export function dashboardExpressions(): string[] {
  const out: string[] = [];
  const walk = (node: unknown, key = ''): void => {
    if (Array.isArray(node))
      node.forEach((n) => {
        walk(n, key);
      });
    else if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) walk(v, k);
    else if (typeof node === 'string' && (key === 'expr' || key === 'definition')) out.push(node);
  };
  walk(JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')));
  return out;
}

export interface AlertRule {
  alert: string;
  expr: string;
}

export function alertRules(): AlertRule[] {
  const doc = parse(readFileSync(ALERTS_PATH, 'utf8')) as { groups: { rules: AlertRule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

/** Metric names in PromQL: ours all share the prefix, so a name is any ac_list_sync_ identifier. */
export function metricNames(expressions: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const e of expressions) for (const m of e.matchAll(/\bac_list_sync_[a-zA-Z0-9_]+/g)) names.add(m[0]);
  return names;
}

export async function scrape(port: number): Promise<Sample[]> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  return parseMetrics(await res.text());
}

export async function getJson(port: number, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The service's real logger (redaction, scrubbing, masking), writing JSON lines into memory. */
export function memoryLogger(level = 'debug'): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger(level, { write: (line: string) => void lines.push(line) }, 'json'), lines };
}
