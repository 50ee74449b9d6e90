import type { ListChange } from '../buffer/contact-entry.js';
import type { ExportConfig } from '../config/schema.js';
import type { DeliveryGate, ProfileStore } from '../deliver/outcomes.js';
import { tieOffset, type EventRef } from '../ingest/source.js';
import type { Ownership } from '../offsets/ownership.js';
import type { Route } from './decide.js';
import { LedgerState } from './hash-index.js';
import type { Ledger } from './ledger.js';

/**
 * What delivery asks before it sends: how a change goes out (the ledger's route), the intents of its
 * unsubscribes (written ahead), and whether a ref still counts (its generation). Each change is keyed in the
 * ledger by the partition of its newest event.
 */
export class LedgerGate implements DeliveryGate<EventRef> {
  private readonly exportsByName: ReadonlyMap<string, ExportConfig>;
  /** Profile records in the ledger, in the partition of each profile's events (absent without a ledger). */
  readonly profiles?: ProfileStore<EventRef>;

  constructor(
    exports: readonly ExportConfig[],
    private readonly ownership: Ownership,
    private readonly ledger?: Ledger,
  ) {
    this.exportsByName = new Map(exports.map((e) => [e.name, e]));
    if (ledger) {
      this.profiles = {
        get: (connection, profileId, ref) =>
          ledger.profile(ref.message.topic, ref.message.partition, connection, profileId),
        hash: (email) => ledger.profileEmail(email),
        put: (connection, profileId, ref, record) =>
          ledger.putProfile(ref.message.topic, ref.message.partition, connection, profileId, record),
      };
    }
  }

  route(connection: string, email: string, listId: string, change: ListChange<EventRef>): Route {
    if (!this.ledger) return { kind: 'import' };
    const ref = change.winner;
    if (!ref) return { kind: 'stale' };
    return this.ledger.route(
      ref.message.topic,
      ref.message.partition,
      connection,
      listId,
      email,
      change.op,
      change.occurredAt,
      tieOffset(ref.message),
      this.exportsByName.get(ref.exportName)?.reentry ?? true,
    );
  }

  intend(
    connection: string,
    removes: { email: string; listId: string; change: ListChange<EventRef> }[],
    at: number,
  ): Promise<void> {
    if (!this.ledger) return Promise.resolve();
    const writes: Promise<void>[] = [];
    for (const { email, listId, change } of removes) {
      const ref = change.winner;
      if (!ref) continue;
      const w = this.ledger.intend(ref.message.topic, ref.message.partition, connection, listId, email, at);
      if (w) writes.push(w);
    }
    return Promise.all(writes).then(() => undefined);
  }

  withdraw(
    connection: string,
    removes: { email: string; listId: string; change: ListChange<EventRef> }[],
    at: number,
  ): void {
    if (!this.ledger) return;
    for (const { email, listId, change } of removes) {
      const ref = change.winner;
      const offset = tieOffset(ref.message);
      // A failed outcome replaces the open intent with a closed window and keeps the time of the change before it;
      // nothing of it reached ActiveCampaign, so its window never becomes the earlier window of the next one.
      void this.ledger
        .apply(ref.message.topic, ref.message.partition, connection, listId, email, {
          op: 'remove',
          occurredAt: change.occurredAt,
          sentAt: at,
          confirmedAt: at,
          failed: true,
          unapplied: true,
          ...(offset !== undefined ? { offset } : {}),
        })
        .catch(() => undefined); // not owned any more or closed: the window stays open, the cautious side
    }
  }

  /**
   * Whether ActiveCampaign has had the contact: any list's record
   * of something that reached it (not an unapplied unsubscribe).
   */
  knows(connection: string, email: string, ref: EventRef): boolean {
    if (!this.ledger) return true; // without a ledger nothing is known either way: send, as before
    const { topic, partition } = ref.message;
    for (const e of this.exportsByName.values()) {
      if (e.connection !== connection) continue;
      const entry = this.ledger.lookup(topic, partition, connection, e.listId, email);
      if (entry && !entry.unapplied) return true;
    }
    return false;
  }

  givenTags(connection: string, email: string, listId: string, ref: EventRef): Set<string> {
    const given = new Set<string>();
    if (!this.ledger) return given;
    const { topic, partition } = ref.message;
    for (const e of this.exportsByName.values()) {
      if (e.connection !== connection || e.listId === listId || !e.tags.length) continue;
      if (this.ledger.lookup(topic, partition, connection, e.listId, email)?.state === LedgerState.Added)
        for (const t of e.tags) given.add(t);
    }
    return given;
  }

  live(ref: EventRef): boolean {
    return this.ownership.isCurrent(ref.generation);
  }
}
