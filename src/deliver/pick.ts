import type { FlushTrigger } from '../buffer/contact-buffer.js';
import type { Spend } from './budget.js';

/** What the scheduler knows when it picks the next import. Pure: every input is a value. */
export interface PickInput {
  now: number;
  /** Requests in the air, and the bound. */
  requests: number;
  maxConcurrentRequests: number;
  /** Imports sent or accepted and not yet confirmed, and the bound. */
  inAir: number;
  maxUnconfirmed: number;
  /** The size of the next half of a bisected batch, if one waits: it goes before anything buffered. */
  bisectHead: number | undefined;
  /** The flush trigger of a drain (shutdown, rebalance), or what the buffer says is due now. */
  draining: FlushTrigger | undefined;
  due: FlushTrigger | undefined;
  /** When the buffer's age trigger fires next. */
  dueAt: number | undefined;
  readyContacts: number;
  maxContacts: number;
  /** When the budget lets a request of this kind go; `partial`: an import cut by age, not full. */
  readyAt: (kind: Spend, partial: boolean) => number;
}

export type Pick =
  /**
   * Nothing to send now (`due`: whether work is due, held by a bound): look again at `wakeAt` (Infinity: when woken).
   */
  | { kind: 'idle'; wakeAt: number; due: boolean }
  /** Work is due but the budget holds it back until `wakeAt`. */
  | { kind: 'budget'; wakeAt: number }
  | { kind: 'send'; source: 'bisect' | 'buffer'; trigger: FlushTrigger; spend: Spend };

/** The kind of budget an import of `contacts` contacts spends. */
export const importKind = (contacts: number): Spend => (contacts === 1 ? 'single-import' : 'import');

/** Picks the next import: a bisected half first, then a due (or drained) buffer, within the bounds and the budget. */
export function pickImport(p: PickInput): Pick {
  if (p.requests >= p.maxConcurrentRequests || p.inAir >= p.maxUnconfirmed)
    return { kind: 'idle', wakeAt: Infinity, due: true };
  const bisect = p.bisectHead !== undefined;
  const trigger = bisect ? 'retry' : (p.draining ?? p.due);
  if (!trigger) return { kind: 'idle', wakeAt: p.dueAt ?? Infinity, due: false };
  const contacts = bisect ? p.bisectHead! : Math.min(p.readyContacts, p.maxContacts);
  if (contacts === 0) return { kind: 'idle', wakeAt: Infinity, due: true };
  const spend = importKind(contacts);
  const ready = p.readyAt(spend, !bisect && trigger === 'age' && contacts < p.maxContacts);
  if (ready > p.now) return { kind: 'budget', wakeAt: ready };
  return { kind: 'send', source: bisect ? 'bisect' : 'buffer', trigger, spend };
}
