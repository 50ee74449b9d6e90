import type { ExportConfig } from '../config/schema.js';
import type { LedgerRecord } from './record.js';

/**
 * `trace`: "why isn't this person on the list?", answered from what Kafka holds. Pure: the CLI reads the
 * topics and hands the contact's records in; this puts them side by side.
 */
export interface TracedEvent {
  topic: string;
  partition: number;
  offset: number;
  eventId: string;
  occurredAt: number;
  segmentId: string;
  op: 'add' | 'remove';
}

export interface TracedDeadLetter {
  topic: string;
  partition: number;
  offset: number;
  exportName: string | undefined;
  stage: string;
  code: string;
  message: string;
}

export interface TraceLine {
  connection: string;
  listId: string;
  exports: string[];
  /** What the ledger holds for (connection, list, contact), or undefined. */
  ledger: LedgerRecord | undefined;
  /** The ledger in words. */
  state: string;
  /** The contact's events for these exports, oldest first, each with where it went. */
  events: (TracedEvent & { exportName: string; fate: string })[];
}

export function describeRecord(r: LedgerRecord | undefined): string {
  if (!r) return 'nothing: no change for this contact and list was confirmed while the ledger was on';
  const at = `event of ${iso(r.occurredAt)}, confirmed ${iso(r.confirmedAt)}`;
  if (r.op === 'add')
    return r.refused
      ? `not subscribed: the add was refused (${r.refused}) (${at})`
      : `subscribed by this service (${at})`;
  if (r.refused) return `unsubscribed by this service; a re-entry was refused (${r.refused}) (${at})`;
  return r.byService
    ? `unsubscribed by this service because the contact left the segment (${at}); a re-entry re-subscribes them`
    : `unsubscribed, not provably by this service (${at}); a re-entry is dead-lettered as an opt-out`;
}

/** Groups the contact's events by (connection, list) of the exports that map them, and says where each went. */
export function traceContact(
  exports: readonly ExportConfig[],
  ledger: (connection: string, listId: string) => LedgerRecord | undefined,
  events: readonly TracedEvent[],
  deadLetters: readonly TracedDeadLetter[],
  listFilter?: string,
): TraceLine[] {
  const lines = new Map<string, TraceLine>();
  for (const exp of exports) {
    if (listFilter !== undefined && exp.listId !== listFilter) continue;
    const k = `${exp.connection}\u0000${exp.listId}`;
    let line = lines.get(k);
    if (!line) {
      const record = ledger(exp.connection, exp.listId);
      line = {
        connection: exp.connection,
        listId: exp.listId,
        exports: [],
        ledger: record,
        state: describeRecord(record),
        events: [],
      };
      lines.set(k, line);
    }
    line.exports.push(exp.name);
    for (const e of events) {
      if (e.segmentId !== exp.segmentId) continue;
      line.events.push({ ...e, exportName: exp.name, fate: fateOf(exp, e, line.ledger, deadLetters) });
    }
  }
  for (const line of lines.values()) {
    line.events.sort((a, b) => a.occurredAt - b.occurredAt || a.offset - b.offset);
    // Of the events at the ledger's time, the first one not dead-lettered is the change it holds; later ones
    // are replays of it, skipped as stale. A refused change was dead-lettered, so every other one is a replay.
    let held = line.ledger?.refused !== undefined;
    for (const e of line.events) {
      if (e.fate !== AT_LEDGER_TIME) continue;
      e.fate = held
        ? 'stale: a replay of the change the ledger holds (skipped)'
        : 'applied: the change the ledger holds';
      held = true;
    }
  }
  return [...lines.values()];
}

function fateOf(
  exp: ExportConfig,
  e: TracedEvent,
  ledger: LedgerRecord | undefined,
  deadLetters: readonly TracedDeadLetter[],
): string {
  const dead = deadLetters.find(
    (d) =>
      d.topic === e.topic &&
      d.partition === e.partition &&
      d.offset === e.offset &&
      (d.exportName === undefined || d.exportName === exp.name),
  );
  if (dead) return `dead-lettered: ${dead.code} at ${dead.stage} (${dead.message})`;
  if (!exp.enabled) return 'skipped: the export is disabled';
  if (e.op === 'remove' && exp.onLeave === 'nothing')
    return 'skipped: leaving does nothing for this export (onLeave: nothing)';
  if (!ledger) return 'not confirmed yet (in flight, not consumed yet, or sent while the ledger was off)';
  if (e.occurredAt < ledger.occurredAt)
    return 'superseded: a newer change is applied (skipped as stale if it came after it)';
  if (e.occurredAt === ledger.occurredAt) return AT_LEDGER_TIME;
  return 'not confirmed yet (newer than the ledger: in flight or not consumed yet)';
}

const AT_LEDGER_TIME = 'at the time of the ledger entry';
const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : '?');
