import type { Simulator } from '../../packages/ac-simulator/src/index.js';
import type { Metrics } from '../../src/observability/metrics.js';
import { DLQ_HEADERS } from '../../src/dlq/envelope.js';
import type { ReadRecord } from './harness.js';

/**
 * Flapping streams for the ledger tests: contacts enter and leave segments round after round. Round r is an add
 * for even r and a remove for odd r, so an odd number of rounds ends with everyone added.
 */
export interface Group {
  /** Name, used as the email prefix. */
  name: string;
  segmentId: string;
  listId: string;
  contacts: number;
}

export interface SourceEvent {
  key: string;
  value: string;
  eventId: string;
  email: string;
  segmentId: string;
  op: 'add' | 'remove';
  round: number;
}

export const emailOf = (prefix: string, group: Group, i: number) => `${prefix}${group.name}${i}@example.com`;
const base = Date.parse('2026-11-28T10:00:00Z');

/** The events of round `round` for every contact of every group (one event each; keyed by profile id). */
export function roundEvents(prefix: string, groups: readonly Group[], round: number): SourceEvent[] {
  const op = round % 2 === 0 ? 'add' : 'remove';
  const out: SourceEvent[] = [];
  let n = 0;
  for (const g of groups) {
    for (let i = 0; i < g.contacts; i++) {
      const email = emailOf(prefix, g, i);
      const eventId = `${prefix}${g.name}${i}-r${round}`;
      const profile = { id: `${prefix}${g.name}-p${i}`, email, firstName: `F${i}` };
      const value = JSON.stringify({
        eventId,
        occurredAt: new Date(base + round * 60_000 + n++).toISOString(),
        segmentId: g.segmentId,
        op,
        profile,
      });
      out.push({ key: profile.id, value, eventId, email, segmentId: g.segmentId, op, round });
    }
  }
  return out;
}

/** Seeds the simulator with the contacts of `group` opted out of its list (by the contact, status 2). */
export function seedOptedOut(sim: Simulator, prefix: string, group: Group): string[] {
  const emails: string[] = [];
  for (let i = 0; i < group.contacts; i++) {
    const email = emailOf(prefix, group, i);
    sim.seedContact({ email, lists: { [group.listId]: 2 } });
    emails.push(email);
  }
  return emails;
}

/** Statuses of a group's contacts on its list: email → status (undefined when not a member). */
export function statuses(sim: Simulator, prefix: string, group: Group): Map<string, number | undefined> {
  const members = sim.snapshot().lists[group.listId]?.members ?? {};
  const out = new Map<string, number | undefined>();
  for (let i = 0; i < group.contacts; i++) {
    const email = emailOf(prefix, group, i);
    out.set(email, members[email]?.status);
  }
  return out;
}

/** events_consumed_total{result} summed over topics, from in-process metrics. */
export async function consumed(metrics: Metrics, result: string): Promise<number> {
  const { values } = await metrics.eventsConsumed.get();
  return values.filter((v) => v.labels.result === result).reduce((n, v) => n + v.value, 0);
}

/** The same, scraped from a running instance's /metrics. */
export async function scrapedConsumed(port: number, result: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let n = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('ac_list_sync_events_consumed_total{') && line.includes(`result="${result}"`))
      n += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return n;
}

/** What the writes to the simulator were: list members and write requests (reads and probes left out). */
export function writes(sim: Simulator): string {
  const snap = sim.snapshot();
  const byEndpoint = snap.counters.byEndpoint;
  return JSON.stringify({
    lists: snap.lists,
    imports: byEndpoint['POST /import/bulk_import'] ?? 0,
    contactLists: byEndpoint['POST /contactLists'] ?? 0,
    applied: snap.counters.contactsApplied,
  });
}

/** A dead-letter record as a source record again: key and value unchanged, the dlq.* headers dropped. */
export function asSource(r: ReadRecord): { key: string | null; value: Buffer | null; headers: Record<string, string> } {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) if (!k.startsWith('dlq.')) headers[k] = v;
  return { key: r.key?.toString() ?? null, value: r.value, headers };
}

export const codeOf = (r: ReadRecord) => r.headers[DLQ_HEADERS.code];
export const emailIn = (r: ReadRecord) =>
  (JSON.parse(r.value!.toString()) as { profile: { email: string } }).profile.email;
