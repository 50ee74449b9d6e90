import { parseArgs } from 'node:util';
import { histogramQuantile, parseMetrics, sumBy, total, type Sample } from '../observability/scrape.js';

/**
 * `status [--url URL] [--interval S] [--once]`: a one-screen summary of a running instance, read from its
 * /metrics. On a terminal it redraws every interval until Ctrl-C; otherwise (or with --once) it prints once.
 * Rates need two scrapes, so a single print scrapes twice, one interval apart.
 */
export async function statusCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:9464/metrics' },
      interval: { type: 'string', default: '2' },
      once: { type: 'boolean', default: false },
    },
  });
  const url = values.url;
  const intervalMs = Number(values.interval) * 1000;
  if (!Number.isFinite(intervalMs) || intervalMs < 100)
    throw new TypeError('status: --interval must be a number of seconds, at least 0.1');
  const live = !values.once && process.stdout.isTTY === true;

  let previous: Scrape;
  try {
    previous = await scrape(url);
  } catch (err) {
    process.stderr.write(`ac-list-sync status: cannot read ${url}: ${(err as Error).message}\n`);
    return 1;
  }
  let stopped = false;
  process.once('SIGINT', () => (stopped = true));
  for (;;) {
    await new Promise((r) => setTimeout(r, intervalMs));
    let current: Scrape;
    try {
      current = await scrape(url);
    } catch (err) {
      if (!live) {
        process.stderr.write(`ac-list-sync status: cannot read ${url}: ${(err as Error).message}\n`);
        return 1;
      }
      process.stdout.write(`\u001b[2J\u001b[H${url}: ${(err as Error).message} (retrying)\n`);
      continue;
    }
    const screen = renderStatus(summarise(previous, current), url);
    process.stdout.write(live ? `\u001b[2J\u001b[H${screen}` : screen);
    previous = current;
    if (!live || stopped) return 0;
  }
}

export interface Scrape {
  at: number;
  samples: Sample[];
}

async function scrape(url: string): Promise<Scrape> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return { at: Date.now(), samples: parseMetrics(await res.text()) };
}

export interface StatusSummary {
  seconds: number;
  ready: boolean | undefined;
  paused: boolean;
  eventsPerSecond: Map<string, number>;
  lag: number;
  worstPartitions: [string, number][];
  buffered: Map<string, { contacts: number; bytes: number; unconfirmed: number }>;
  pendingEvents: number;
  budget: Map<string, { pace: number; waiting: number; requestsPerSecond: number; throttledPerSecond: number }>;
  accountsDown: string[];
  deadLetters: { total: number; perSecond: number; byCode: [string, number][] };
  lastFlushAgoSeconds: number | undefined;
  latencyP99: number | undefined;
}

/** Pure: two scrapes → the numbers on the screen (rates over the time between them). */
export function summarise(prev: Scrape, cur: Scrape): StatusSummary {
  const seconds = Math.max(0.001, (cur.at - prev.at) / 1000);
  const s = cur.samples;
  const rate = (name: string, by: string[], match: Record<string, string | RegExp> = {}) => {
    const before = sumBy(prev.samples, name, by, match);
    const out = new Map<string, number>();
    for (const [k, v] of sumBy(s, name, by, match)) out.set(k, Math.max(0, v - (before.get(k) ?? 0)) / seconds);
    return out;
  };
  const lagByPartition = sumBy(s, 'ac_list_sync_consumer_lag_messages', ['topic', 'partition']);
  const buffered = new Map<string, { contacts: number; bytes: number; unconfirmed: number }>();
  const contacts = sumBy(s, 'ac_list_sync_buffered_contacts', ['connection']);
  const bytes = sumBy(s, 'ac_list_sync_buffered_bytes', ['connection']);
  const unconfirmed = sumBy(s, 'ac_list_sync_unconfirmed_imports', ['connection']);
  for (const [c, n] of contacts)
    buffered.set(c, { contacts: n, bytes: bytes.get(c) ?? 0, unconfirmed: unconfirmed.get(c) ?? 0 });
  const budget = new Map<
    string,
    { pace: number; waiting: number; requestsPerSecond: number; throttledPerSecond: number }
  >();
  const pace = sumBy(s, 'ac_list_sync_rate_budget_utilisation_ratio', ['connection']);
  const waiting = rate('ac_list_sync_rate_budget_wait_seconds_total', ['connection']);
  const requests = rate('ac_list_sync_api_requests_total', ['connection']);
  const throttled = rate('ac_list_sync_api_throttled_total', ['connection']);
  for (const [c, p] of pace)
    budget.set(c, {
      pace: p,
      waiting: waiting.get(c) ?? 0,
      requestsPerSecond: requests.get(c) ?? 0,
      throttledPerSecond: throttled.get(c) ?? 0,
    });
  const down = [...sumBy(s, 'ac_list_sync_account_down', ['connection', 'code'])]
    .filter(([, v]) => v > 0)
    .map(([k]) => k.replace('/', ' '));
  const lastFlush = Math.max(
    0,
    ...sumBy(s, 'ac_list_sync_last_successful_flush_timestamp_seconds', ['connection']).values(),
  );
  const readySamples = s.filter((x) => x.name === 'ac_list_sync_ready');
  return {
    seconds,
    ready: readySamples.length ? readySamples.every((x) => x.value === 1) : undefined,
    paused: total(s, 'ac_list_sync_paused') > 0,
    eventsPerSecond: rate('ac_list_sync_events_consumed_total', ['result']),
    lag: [...lagByPartition.values()].reduce((a, b) => a + b, 0),
    worstPartitions: [...lagByPartition]
      .filter(([, v]) => v > 0)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3),
    buffered,
    pendingEvents: total(s, 'ac_list_sync_pending_events'),
    budget,
    accountsDown: down,
    deadLetters: {
      total: total(s, 'ac_list_sync_dead_letters_total'),
      perSecond: rate('ac_list_sync_dead_letters_total', []).get('') ?? 0,
      byCode: [...sumBy(s, 'ac_list_sync_dead_letters_total', ['stage', 'code'])]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 4),
    },
    lastFlushAgoSeconds: lastFlush > 0 ? Math.max(0, cur.at / 1000 - lastFlush) : undefined,
    latencyP99: histogramQuantile(s, 'ac_list_sync_end_to_end_seconds', 0.99, { from: 'event' }),
  };
}

const num = (n: number, digits = 1) =>
  Math.abs(n) >= 1000 ? Math.round(n).toLocaleString('en-US') : n.toFixed(Number.isInteger(n) ? 0 : digits);
const pct = (n: number) => `${(n * 100).toFixed(0)}%`;

/** Pure: the screen, at most ~20 lines. */
export function renderStatus(x: StatusSummary, source: string): string {
  const lines: string[] = [];
  const state = x.ready === undefined ? 'unknown' : x.ready ? 'READY' : 'NOT READY';
  lines.push(
    `ac-list-sync  ${state}${x.paused ? '  (fetching paused)' : ''}  ` +
      `·  ${source}  ·  rates over ${x.seconds.toFixed(1)}s`,
  );
  if (x.accountsDown.length) lines.push(`  accounts failing: ${x.accountsDown.join(', ')}`);
  const flow = [...x.eventsPerSecond].filter(([, v]) => v > 0).map(([k, v]) => `${k} ${num(v)}/s`);
  const all = [...x.eventsPerSecond.values()].reduce((a, b) => a + b, 0);
  lines.push(`Throughput   ${num(all)} events/s${flow.length ? `  (${flow.join(', ')})` : ''}`);
  const worst = x.worstPartitions.map(([k, v]) => `${k} ${num(v)}`).join(', ');
  lines.push(`Lag          ${num(x.lag)} messages${x.worstPartitions.length ? `  worst: ${worst}` : ''}`);
  lines.push(
    `Latency      p99 event → accepted: ${x.latencyP99 === undefined ? 'n/a' : `${num(x.latencyP99, 2)} s`}   ` +
      `last accepted import: ${x.lastFlushAgoSeconds === undefined ? 'never' : `${num(x.lastFlushAgoSeconds)} s ago`}`,
  );
  lines.push(`Buffers      ${num(x.pendingEvents)} unsettled events`);
  for (const [c, b] of x.buffered)
    lines.push(
      `  ${c.padEnd(12)} ${num(b.contacts)} contacts, ${num(b.bytes / 1024)} ` +
        `KiB, ${num(b.unconfirmed)} imports unconfirmed`,
    );
  lines.push('Budget');
  for (const [c, b] of x.budget) {
    lines.push(
      `  ${c.padEnd(12)} pace ${pct(b.pace)}  ${num(b.requestsPerSecond, 2)} req/s  ` +
        `waiting ${pct(Math.min(1, b.waiting))} of the time  throttled ${num(b.throttledPerSecond, 2)}/s`,
    );
  }
  const byCode = x.deadLetters.byCode.map(([k, v]) => `${k.replace('/', ' ')} ${num(v)}`).join(', ');
  lines.push(
    `Dead letters ${num(x.deadLetters.total)} total, ${num(x.deadLetters.perSecond, 2)}/s` +
      (x.deadLetters.byCode.length ? `  (${byCode})` : ''),
  );
  return `${lines.join('\n')}\n`;
}
