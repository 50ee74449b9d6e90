import {
  decodeMarker,
  markerFor,
  markerKey,
  newerMarker,
  type PersonHasher,
  routeErasure,
  shadows,
  suppresses,
  type ErasureMarker,
} from './erasure.js';
import { personPart } from './hashing.js';
import type { LedgerEntry } from './hash-index.js';

/** What the markers need of a ledger slot: its markers, and whether it is restored. */
export interface MarkerSlot {
  ready: boolean;
  markers: Map<string, ErasureMarker>;
}

/**
 * The erasure markers of the partitions a member owns (each slot keeps its own), and the ledger's questions to
 * them. While none is held, nothing is hashed for them: the hot path pays only a counter check.
 */
export class ErasureMarkers {
  private count = 0;

  constructor(
    readonly hasher: PersonHasher,
    private readonly slots: () => Iterable<MarkerSlot>,
  ) {}

  /** The person part of a ledger key: the keyed hash of the email once ledger.hashKey is set, else the email. */
  person(email: string): string {
    return personPart(this.hasher, email);
  }

  /**
   * The marker that stands for this person on this connection,
   * across every restored slot (two profiles may share an email).
   */
  of(connection: string, email: string): ErasureMarker | undefined {
    if (this.count === 0) return undefined;
    let best: ErasureMarker | undefined;
    for (const digest of this.hasher.markerDigests(email)) {
      const mk = markerKey(connection, digest);
      for (const slot of this.slots()) if (slot.ready) best = newerMarker(best, slot.markers.get(mk));
    }
    return best;
  }

  /** Whether the person's erasure came after this entry's change: the entry is then ignored. */
  shadows(connection: string, email: string, entry: LedgerEntry): boolean {
    return this.count > 0 && shadows(this.of(connection, email), entry);
  }

  suppressed(connection: string, email: string, occurredAt: number): boolean {
    return this.count > 0 && suppresses(this.of(connection, email), occurredAt);
  }

  route(connection: string, email: string, occurredAt: number): 'erase' | 'stale' {
    return routeErasure(this.of(connection, email), occurredAt);
  }

  /** The key and record to write for an erasure in this slot; undefined when a newer marker stands there. */
  next(
    slot: MarkerSlot,
    connection: string,
    email: string,
    occurredAt: number,
    at: number,
    done: boolean,
  ): { key: string; marker: ErasureMarker } | undefined {
    const key = markerKey(connection, this.hasher.digest(email));
    const marker = markerFor(slot.markers.get(key), occurredAt, at, done);
    if (!marker) return undefined;
    this.set(slot, key, marker);
    return { key, marker };
  }

  /** A marker record read by a restore: kept when it stands over the one read before. */
  restored(slot: MarkerSlot, key: string, value: Buffer | null): void {
    const m = decodeMarker(value);
    if (m && newerMarker(slot.markers.get(key), m) === m) this.set(slot, key, m);
  }

  /** A slot released (its partition revoked): its markers no longer count. */
  released(slot: MarkerSlot): void {
    this.count -= slot.markers.size;
  }

  private set(slot: MarkerSlot, key: string, marker: ErasureMarker): void {
    if (!slot.markers.has(key)) this.count++;
    slot.markers.set(key, marker);
  }
}
