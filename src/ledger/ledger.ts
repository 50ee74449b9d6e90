import type { Logger } from 'pino';
import { crashPoint } from '../crash-points.js';
import { backoffDelay } from '../domain/backoff.js';
import type { Metrics } from '../observability/metrics.js';
import { intentFor, isStale, recordFor, routeChange, type Outcome, type Route } from './decide.js';
import { hashKey, LedgerIndex, LedgerState, type LedgerEntry } from './hash-index.js';
import { maskEmail } from '../observability/logger.js';
import {
  decodeLedgerEntry,
  decodeLedgerValue,
  encodeLedgerValue,
  entryOf,
  ledgerKey,
  plainKeyPerson,
  splitLedgerKey,
  type LedgerRecord,
} from './record.js';
import {
  countKey,
  countKeyBytes,
  encodeHashCheck,
  decodeHashCheck,
  formatProblem,
  HASH_CHECK_KEY,
  type KeyFormat,
} from './hashing.js';
import { encodeMarker, isMarkerKey, PersonHasher, type ErasureMarker } from './erasure.js';
import { ErasureMarkers } from './markers.js';
import {
  emailHash,
  encodeProfile,
  isProfileKey,
  profileConnection,
  profileKey,
  ProfileTable,
  type ProfileRecord,
} from './profiles.js';

/** How a restore resumes and reports how far it got (src/ledger/kafka.ts maps it onto readToEnd's options). */
export interface RestoreResume {
  /**
   * Where each partition resumes: the offset after the last one read. A partition not named starts at its beginning.
   */
  from: ReadonlyMap<number, number>;
  /** The end offsets the read goes to, once known (for the progress shown). */
  onEnds(ends: ReadonlyMap<number, number>): void;
  /** A partition's position moved, markers and compacted gaps included: `offset` is the last one covered. */
  onProgress(partition: number, offset: number): void;
}

/** The Kafka side of the ledger, injected (src/service.ts wires readToEnd and LedgerWriter). */
export interface LedgerIo {
  /**
   * Reads these partitions of the ledger topic of `sourceTopic` to their end offsets of now, each from where
   * `resume.from` says (default: the beginning). `offset` is the record's offset.
   */
  restore(
    sourceTopic: string,
    partitions: number[],
    /** `key`: as stored (UTF-8 bytes), or already a string. */
    onRecord: (
      partition: number,
      key: string | Buffer,
      value: Buffer | null,
      timestamp: number,
      offset?: number,
    ) => void,
    signal: AbortSignal,
    resume?: RestoreResume,
  ): Promise<void>;
  /**
   * Appends a record (null: a tombstone) to partition `partition` of the ledger topic of `sourceTopic`;
   * resolves after the ack.
   */
  write(sourceTopic: string, partition: number, key: string, value: string | null): Promise<void>;
  /**
   * Fencing: the partition was revoked, so its queued records are dropped (their changes belong to an earlier
   * generation and are fetched again by the new owner): a late write of a previous owner never lands over the
   * new owner's records. Optional (tests).
   */
  release?(sourceTopic: string, partition: number): void;
  /** Resolves when this member's writes in flight have finished: a partition owned again is restored after them. */
  whenWritten?(): Promise<void>;
}

/** A ledger write that cannot be made: the partition is not owned (or not restored), or the ledger is closed. */
export class LedgerUnavailable extends Error {
  constructor(reason: string) {
    super(`the ledger record was not written: ${reason}`);
    this.name = 'LedgerUnavailable';
  }
}

export interface LedgerOptions {
  /** A restore that reads nothing for this long is abandoned and resumed from where it got (a stall detector). */
  restoreTimeoutMs: number;
  /** How often a restore under way logs its progress (default 10 s). */
  restoreProgressLogMs?: number;
  /** Connections whose ledger records older than `startedAt` are ignored: the ledger is rebuilt as the run goes. */
  rebuild: ReadonlySet<string>;
  startedAt: number;
  /** How long after its intent an unconfirmed unsubscribe may still be applied (the window's end while open). */
  openWindowMs: number;
  /** The keyed hash of an email in erasure markers (read once at start-up); default: the built-in key. */
  hasher?: PersonHasher;
  /** Every list of a connection (disabled exports too): an erasure tombstones the person's key on each. */
  listsOf?: (connection: string) => readonly string[];
}

/** One owned source partition: its index and whether its ledger partition has been read. */
interface Slot {
  index: LedgerIndex;
  /** Erasure markers read or written for this partition, by marker key (src/ledger/erasure.ts). */
  markers: Map<string, ErasureMarker>;
  /** Profile records (src/ledger/profiles.ts): the durable email-change map of this partition. */
  profiles: ProfileTable;
  ready: boolean;
  /** Resolves when the slot is ready, or when it is released (the partition was revoked). */
  settled: Promise<void>;
  resolve: () => void;
}

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/**
 * A restore reserves index room for at most this many entries per partition up front (about 46 MB of table):
 * a longer partition grows from there.
 */
const RESERVE_AT_MOST = 1_000_000;

/**
 * The membership ledger of the partitions this member owns: restored on assignment, released on revocation,
 * read by the pipeline (staleness, re-entry) and written when a change is confirmed. Records go to the ledger
 * partition with the number of the source partition, so the owner of a source partition owns its ledger.
 */
export class Ledger {
  private slots = new Map<string, Slot>();
  private closed = false;
  private conflicts = 0;
  private conflictLoggedAt = 0;
  /** Offsets each restore under way still has to read: the remaining-offsets gauge. */
  private restoreRemaining = new Map<symbol, number>();
  /** Erasure markers of every slot (src/ledger/markers.ts). */
  private readonly markers: ErasureMarkers;
  private readonly hasher: PersonHasher;

  constructor(
    private readonly io: LedgerIo,
    private readonly opts: LedgerOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.hasher = opts.hasher ?? new PersonHasher();
    this.markers = new ErasureMarkers(this.hasher, () => this.slots.values());
  }

  /**
   * A new assignment: partitions kept keep their index (every write of this member went into it); partitions
   * no longer owned are released; new ones are restored, and are not ready until then.
   */
  assign(assignment: Record<string, number[]>): void {
    const wanted = new Set<string>();
    const fresh = new Map<string, { partition: number; slot: Slot }[]>();
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const partition of partitions) {
        const k = key(topic, partition);
        wanted.add(k);
        if (this.slots.has(k)) continue;
        const slot = newSlot();
        this.slots.set(k, slot);
        fresh.set(topic, [...(fresh.get(topic) ?? []), { partition, slot }]);
      }
    }
    let released = 0;
    for (const [k, slot] of this.slots) {
      if (wanted.has(k)) continue;
      this.slots.delete(k);
      this.markers.released(slot);
      slot.resolve();
      const i = k.lastIndexOf('\u0000');
      this.io.release?.(k.slice(0, i), Number(k.slice(i + 1)));
      released++;
    }
    if (released) this.log.info({ released }, 'Ledger partitions released (no longer owned)');
    for (const [topic, targets] of fresh) void this.restore(topic, targets);
    this.updateGauges();
  }

  /** Undefined when the partition may be processed; otherwise a promise that settles when it may be tried again. */
  whenReady(topic: string, partition: number): Promise<void> | undefined {
    const slot = this.slots.get(key(topic, partition));
    return slot && !slot.ready ? slot.settled : undefined;
  }

  lookup(topic: string, partition: number, connection: string, listId: string, email: string): LedgerEntry | undefined {
    const slot = this.slots.get(key(topic, partition));
    const entry = slot?.ready ? slot.index.get(ledgerKey(connection, listId, this.pid(email))) : undefined;
    return entry && this.erasedBefore(connection, email, entry) ? undefined : entry;
  }

  /**
   * The newest entry for a key across every partition this member owns: two profiles may share an email on two
   * partitions (duplicate profiles upstream), and the newest change must win across them too. The key is hashed
   * once; each other partition costs one probe. An offset only orders changes within its own partition. A
   * conflict is counted when an event arrives (`arriving`), not again when its import is cut.
   */
  private newest(
    topic: string,
    partition: number,
    connection: string,
    k: string,
    email: string,
    arriving: boolean,
  ): LedgerEntry | undefined {
    const best = this.newestRecorded(topic, partition, k, email, arriving);
    return best && this.erasedBefore(connection, email, best) ? undefined : best;
  }

  private newestRecorded(
    topic: string,
    partition: number,
    k: string,
    email: string,
    arriving: boolean,
  ): LedgerEntry | undefined {
    const own = this.slots.get(key(topic, partition));
    if (this.slots.size === 1) return own?.ready ? own.index.get(k) : undefined;
    const { hi, lo } = hashKey(k);
    let best = own?.ready ? own.index.getHashed(hi, lo) : undefined;
    for (const slot of this.slots.values()) {
      if (slot === own || !slot.ready) continue;
      const e = slot.index.getHashed(hi, lo);
      if (!e) continue;
      if (arriving) this.conflict(email);
      if (!best || e.occurredAt > best.occurredAt) best = { ...e, offset: undefined } as LedgerEntry;
    }
    if (best && best.offset === undefined) delete best.offset;
    return best;
  }

  /** Whether an event is older than (or as old as) the change the ledger holds for its key. */
  isStale(
    topic: string,
    partition: number,
    connection: string,
    listId: string,
    email: string,
    occurredAt: number,
    offset: number | undefined,
    op: 'add' | 'remove',
  ): boolean {
    return isStale(
      this.newest(topic, partition, connection, ledgerKey(connection, listId, this.pid(email)), email, true),
      occurredAt,
      offset,
      op,
    );
  }

  /** How a buffered change goes out, by what the ledger holds for it now (decided when its import is cut). */
  route(
    topic: string,
    partition: number,
    connection: string,
    listId: string,
    email: string,
    op: 'add' | 'remove',
    occurredAt: number,
    offset: number | undefined,
    reentry: boolean,
  ): Route {
    // A change buffered before its person's erasure arrived is left out like a stale one.
    if (this.suppressed(connection, email, occurredAt)) return { kind: 'stale' };
    return routeChange(
      this.newest(topic, partition, connection, ledgerKey(connection, listId, this.pid(email)), email, false),
      op,
      occurredAt,
      reentry,
      this.opts.openWindowMs,
      offset,
    );
  }

  /** Counted always; logged at most once per 10 s, with the email masked. */
  private conflict(email: string): void {
    this.metrics.emailOnTwoPartitions.inc();
    this.conflicts++;
    const now = Date.now();
    if (now - this.conflictLoggedAt < 10_000) return;
    this.log.warn(
      { email: maskEmail(email), since: this.conflicts },
      'One email is held for two owned partitions (two profiles share it upstream); the newest change wins across them',
    );
    this.conflictLoggedAt = now;
    this.conflicts = 0;
  }

  /**
   * Write-ahead: before the service sends an unsubscribe, its intent, so that after a crash anywhere the service
   * still knows the unsubscribe may be its own. Resolves once the broker acknowledged it. Undefined when none is
   * needed (the unsubscribe repeats the contact's own).
   */
  intend(
    topic: string,
    partition: number,
    connection: string,
    listId: string,
    email: string,
    at: number,
  ): Promise<void> | undefined {
    const slot = this.writable(topic, partition);
    if (slot instanceof LedgerUnavailable) return Promise.reject(slot);
    const k = ledgerKey(connection, listId, this.pid(email));
    const record = intentFor(this.current(slot, connection, k, email), at);
    if (!record) return undefined;
    return this.put(slot, topic, partition, k, record);
  }

  /**
   * Records what became of a change (confirmed, refused on consent, or failed for good): into memory now, so
   * later decisions see it, and to the ledger topic. Resolves once the broker acknowledged it, and rejects when
   * it cannot be written: a change whose record is not acknowledged is never settled.
   */
  apply(
    topic: string,
    partition: number,
    connection: string,
    listId: string,
    email: string,
    outcome: Outcome,
  ): Promise<void> {
    const slot = this.writable(topic, partition);
    if (slot instanceof LedgerUnavailable) return Promise.reject(slot);
    const k = ledgerKey(connection, listId, this.pid(email));
    const prev = this.current(slot, connection, k, email);
    // Never over a newer change (a refusal recorded after its dead letter was written may come late). An intent
    // holds the time of the change before it, so the confirmation or failure of its own change always replaces it.
    const openIntent = prev?.state === LedgerState.RemovedByService && prev.confirmedAt === undefined;
    if (prev && !(outcome.failed && openIntent) && isNewer(prev, outcome)) return Promise.resolve();
    const record = recordFor(prev, outcome);
    return record ? this.put(slot, topic, partition, k, record) : Promise.resolve();
  }

  private writable(topic: string, partition: number): Slot | LedgerUnavailable {
    if (this.closed) return new LedgerUnavailable('the ledger is closed');
    const slot = this.slots.get(key(topic, partition));
    if (!slot) return new LedgerUnavailable(`partition ${partition} of ${topic} is not owned`);
    if (!slot.ready) return new LedgerUnavailable(`partition ${partition} of ${topic} is being restored`);
    return slot;
  }

  private put(slot: Slot, topic: string, partition: number, k: string, record: LedgerRecord): Promise<void> {
    slot.index.set(k, entryOf(record));
    this.updateGauges();
    return this.io.write(topic, partition, k, encodeLedgerValue(record));
  }

  /** The entry for a key of this slot, unless an erasure of its person came after it. */
  private current(slot: Slot, connection: string, k: string, email: string): LedgerEntry | undefined {
    const entry = slot.index.get(k);
    return entry && this.erasedBefore(connection, email, entry) ? undefined : entry;
  }

  /** The person part of a ledger key (hashed with ledger.hashKey). */
  private pid(email: string): string {
    return this.markers.person(email);
  }

  private erasedBefore(connection: string, email: string, entry: LedgerEntry): boolean {
    return this.markers.shadows(connection, email, entry);
  }

  /** Whether an event for this person occurred at or before their erasure: it is skipped and counted, never sent. */
  suppressed(connection: string, email: string, occurredAt: number): boolean {
    return this.markers.suppressed(connection, email, occurredAt);
  }

  /** What an erasure request does: `stale` when an erasure as new is done already (a replay of it), else `erase`. */
  routeErasure(connection: string, email: string, occurredAt: number): 'erase' | 'stale' {
    return this.markers.route(connection, email, occurredAt);
  }

  /**
   * Write-ahead: the erasure's marker as an intent, before the contact is deleted. From now on older events of
   * the person are suppressed, and after a crash a replayed erasure deletes again (harmless when done already).
   * Resolves once acknowledged; rejects when the partition cannot be written (the erasure then waits unsettled).
   */
  intendErasure(
    topic: string,
    partition: number,
    connection: string,
    email: string,
    occurredAt: number,
    at: number,
    profileId?: string,
  ): Promise<void> {
    const marker = this.writeMarker(topic, partition, connection, email, occurredAt, at, false);
    const forgotten = this.forgetProfiles(topic, partition, connection, email, profileId);
    return forgotten ? Promise.all([marker, forgotten]).then(() => undefined) : marker;
  }

  /**
   * The erasure is done (deleted, or ActiveCampaign never had the contact): tombstones for the person's key on
   * every list of the connection (compaction then removes their records, raw email included), then the marker
   * as done. Resolves once all are acknowledged.
   */
  erased(
    topic: string,
    partition: number,
    connection: string,
    email: string,
    occurredAt: number,
    at: number,
  ): Promise<void> {
    const slot = this.writable(topic, partition);
    if (slot instanceof LedgerUnavailable) return Promise.reject(slot);
    const tombstones = (this.opts.listsOf?.(connection) ?? []).map((listId) =>
      this.io.write(topic, partition, ledgerKey(connection, listId, this.pid(email)), null),
    );
    return Promise.all([
      ...tombstones,
      this.writeMarker(topic, partition, connection, email, occurredAt, at, true),
    ]).then(() => undefined);
  }

  private writeMarker(
    topic: string,
    partition: number,
    connection: string,
    email: string,
    occurredAt: number,
    at: number,
    done: boolean,
  ): Promise<void> {
    const slot = this.writable(topic, partition);
    if (slot instanceof LedgerUnavailable) return Promise.reject(slot);
    const next = this.markers.next(slot, connection, email, occurredAt, at, done);
    return next ? this.io.write(topic, partition, next.key, encodeMarker(next.marker)) : Promise.resolve();
  }

  /**
   * The profile record of `profileId` on this connection, from the partition of its events; undefined when there
   * is none or the partition is not restored.
   */
  profile(topic: string, partition: number, connection: string, profileId: string): ProfileRecord | undefined {
    const slot = this.slots.get(key(topic, partition));
    return slot?.ready ? slot.profiles.get(profileKey(this.hasher, connection, profileId)) : undefined;
  }

  /** The hash of an email as profile records hold it. */
  profileEmail(email: string): string {
    return emailHash(this.hasher, email);
  }

  /**
   * Records a profile's contact and email hash: into memory now, and to the ledger topic; resolves once the broker
   * acknowledged it. Never over a newer record (resolves at once), except a write-ahead (`changingTo`) and the
   * record after its PUT: written dated as the newer record, they replace it. Rejects when the partition cannot be
   * written.
   */
  putProfile(
    topic: string,
    partition: number,
    connection: string,
    profileId: string,
    record: ProfileRecord,
  ): Promise<void> {
    const slot = this.writable(topic, partition);
    if (slot instanceof LedgerUnavailable) return Promise.reject(slot);
    const k = profileKey(this.hasher, connection, profileId);
    if (!slot.profiles.set(k, record)) {
      // A write-ahead, and the record that closes an open one, go even over a newer record, dated as it: the PUT
      // waits for the first, and without the second the open intent would repeat the PUT after every restore.
      const held = slot.profiles.get(k)!;
      if (record.changingTo === undefined && held.changingTo === undefined) return Promise.resolve();
      record = { ...record, occurredAt: held.occurredAt };
      slot.profiles.set(k, record);
    }
    return this.io.write(topic, partition, k, encodeProfile(record));
  }

  /** An erasure forgets the person's profile records (by profile id, and any holding their email): tombstones. */
  private forgetProfiles(
    topic: string,
    partition: number,
    connection: string,
    email: string,
    profileId: string | undefined,
  ): Promise<void> | undefined {
    const slot = this.writable(topic, partition);
    if (slot instanceof LedgerUnavailable) return undefined; // the marker's write rejects for the same reason
    const keys = new Set(slot.profiles.keysWithEmail(connection, emailHash(this.hasher, email)));
    const own = profileId === undefined ? undefined : profileKey(this.hasher, connection, profileId);
    if (own !== undefined && slot.profiles.get(own)) keys.add(own);
    const writes = [...keys].map((k) => {
      slot.profiles.delete(k);
      return this.io.write(topic, partition, k, null);
    });
    return writes.length ? Promise.all(writes).then(() => undefined) : undefined;
  }

  close(): void {
    this.closed = true;
    for (const slot of this.slots.values()) slot.resolve();
  }

  /**
   * Reads the ledger partitions of newly assigned source partitions into their indexes. A long restore keeps its
   * progress: `restoreTimeoutMs` is a stall detector (nothing read for that long), and a stalled or failed read
   * resumes from the offset after the last one read per partition, keeping the index built so far. Newest wins
   * per key by occurredAt, as in record(): a record older than the entry already read is ignored; an equal one
   * replaces it (a later offset at the same time is the confirmation replacing its intent).
   */
  private async restore(topic: string, targets: { partition: number; slot: Slot }[]): Promise<void> {
    // This member's own writes still in flight (for a partition it held before) land before the read.
    if (this.io.whenWritten) await this.io.whenWritten();
    const id = Symbol(topic);
    const next = new Map<number, number>();
    const ends = new Map<number, number>();
    const counts = { applied: 0, older: 0, rebuild: 0 };
    /** Per partition: its hash check record and how its keys look (hashed ledger keys, src/ledger/hashing.ts). */
    const formats = new Map<number, KeyFormat>(targets.map((t) => [t.partition, { rawKeys: 0, hashedKeys: 0 }]));
    const started = performance.now();
    let lastMove = started;
    const remaining = () => {
      let n = 0;
      for (const [p, end] of ends) n += Math.max(0, end - (next.get(p) ?? 0));
      return n;
    };
    const moved = (partition: number, offset: number) => {
      lastMove = performance.now();
      if (offset + 1 > (next.get(partition) ?? 0)) next.set(partition, offset + 1);
    };
    const report = (message: string, extra: Record<string, unknown> = {}) =>
      this.log.info(
        {
          topic,
          partitions: targets.map((t) => t.partition),
          records: counts.applied,
          olderIgnored: counts.older,
          remainingOffsets: remaining(),
          seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
          ...extra,
        },
        message,
      );
    let flushed = { ...counts };
    const progress = () => {
      for (const result of ['applied', 'older', 'rebuild'] as const) {
        const d = counts[result] - flushed[result];
        if (d) this.metrics.ledgerRestoreRecords.inc({ result }, d);
      }
      flushed = { ...counts };
      this.restoreRemaining.set(id, remaining());
      this.metrics.ledgerRestoreRemaining.set([...this.restoreRemaining.values()].reduce((a, b) => a + b, 0));
    };
    const logEvery = this.opts.restoreProgressLogMs ?? 10_000;
    let lastLog = started;
    try {
      for (let attempt = 0; !this.closed; attempt++) {
        const live = targets.filter((t) => this.slots.get(key(topic, t.partition)) === t.slot);
        if (live.length === 0) return;
        const byPartition = new Map(live.map((t) => [t.partition, t.slot]));
        const abort = new AbortController();
        lastMove = performance.now();
        // Checks often enough to notice a stall within about 1.25 × restoreTimeoutMs, and to log progress.
        const watch = setInterval(
          () => {
            const now = performance.now();
            progress();
            if (now - lastMove >= this.opts.restoreTimeoutMs)
              abort.abort(
                new Error(`no ledger record read for ${this.opts.restoreTimeoutMs} ms (ledger.restoreTimeoutMs)`),
              );
            else if (now - lastLog >= logEvery) {
              lastLog = now;
              report('Restoring the ledger; its source partitions wait until it is done');
            }
          },
          Math.max(10, Math.min(this.opts.restoreTimeoutMs / 4, logEvery)),
        );
        try {
          await this.io.restore(
            topic,
            [...byPartition.keys()],
            (partition, k, value, timestamp, offset) => {
              crashPoint('ledger-restore-mid');
              // Where to resume, per record; the stall clock moves per batch (onProgress), not per record.
              if (offset !== undefined) {
                if (offset + 1 > (next.get(partition) ?? 0)) next.set(partition, offset + 1);
              } else lastMove = performance.now();
              const slot = byPartition.get(partition);
              // Most keys are a list's, told from their bytes (hashed as they are); the others need the key as text.
              const personAt = typeof k === 'string' || this.opts.rebuild.size ? -1 : plainKeyPerson(k);
              if (personAt >= 0) {
                const entry = slot && decodeLedgerEntry(value);
                if (!slot || !entry) return;
                const format = formats.get(partition);
                if (format) countKeyBytes(format, k as Buffer, personAt);
                if (slot.index.setUnlessNewer(k, entry)) counts.applied++;
                else counts.older++;
                return;
              }
              const ks = typeof k === 'string' ? k : k.toString('utf8');
              // Markers are kept whatever a rebuild ignores: an erasure must outlive the records it shadows.
              if (slot && isMarkerKey(ks)) {
                this.markers.restored(slot, ks, value);
                return;
              }
              if (slot && isProfileKey(ks)) {
                // A rebuilt connection starts with no profiles either: their contact ids may name another account.
                if (
                  !(
                    this.opts.rebuild.size &&
                    timestamp < this.opts.startedAt &&
                    this.opts.rebuild.has(profileConnection(ks))
                  )
                )
                  slot.profiles.restored(ks, value);
                return;
              }
              const format = formats.get(partition);
              if (ks === HASH_CHECK_KEY) {
                if (format) format.check = decodeHashCheck(value);
                return;
              }
              const r = slot && decodeLedgerValue(value);
              if (!slot || !r) return;
              const person = splitLedgerKey(ks)?.email;
              if (format && person !== undefined) countKey(format, person);
              if (
                this.opts.rebuild.size &&
                timestamp < this.opts.startedAt &&
                this.opts.rebuild.has(splitLedgerKey(ks)?.connection ?? '')
              ) {
                counts.rebuild++;
                return;
              }
              if (slot.index.setUnlessNewer(k, entryOf(r))) counts.applied++;
              else counts.older++;
            },
            abort.signal,
            {
              from: new Map(next),
              onEnds: (e) => {
                for (const [p, end] of e) {
                  ends.set(p, end);
                  // At most one entry per offset: room for them up front (bounded), the unused part given back after.
                  byPartition.get(p)?.index.reserve(Math.min(RESERVE_AT_MOST, end - (next.get(p) ?? 0)));
                }
              },
              onProgress: moved,
            },
          );
        } catch (err) {
          const stalled = abort.signal.aborted;
          const wait = backoffDelay(attempt + 1, { initialMs: 1_000, maxMs: 30_000 });
          this.metrics.ledgerRestoreResumes.inc({ reason: stalled ? 'stalled' : 'failed' });
          this.log.warn(
            {
              topic,
              partitions: [...byPartition.keys()],
              err: (err as Error).message,
              resumeFrom: Object.fromEntries(next),
              remainingOffsets: remaining(),
              retryInMs: wait,
            },
            stalled
              ? 'Restoring the ledger stalled; it resumes from the offsets it reached, keeping what it read'
              : 'Restoring the ledger failed; it resumes from the offsets it reached, keeping what it read',
          );
          await new Promise((r) => setTimeout(r, wait));
          continue;
        } finally {
          clearInterval(watch);
        }
        const seconds = (performance.now() - started) / 1000;
        let entries = 0;
        for (const [partition, slot] of byPartition) {
          if (this.slots.get(key(topic, partition)) !== slot) continue;
          const format = formats.get(partition)!;
          const problem = formatProblem(format, this.hasher);
          if (problem) {
            // Used as it is, the partition would look empty (every person new): it waits, loudly, for the fix.
            this.log.error(
              { topic, partition },
              `The ledger partition cannot be used: ${problem}. Its source partition is not processed`,
            );
            continue;
          }
          if (this.hasher.keyed && format.check === undefined) {
            format.check = decodeHashCheck(encodeHashCheck(this.hasher));
            // written again by the next restore if lost
            void this.io.write(topic, partition, HASH_CHECK_KEY, encodeHashCheck(this.hasher)).catch(() => undefined);
          }
          slot.index.fit();
          slot.ready = true;
          entries += slot.index.size;
          slot.resolve();
        }
        this.metrics.ledgerRestoreSeconds.observe(seconds);
        for (const p of ends.keys()) next.set(p, Math.max(next.get(p) ?? 0, ends.get(p)!));
        progress();
        report('Ledger partitions restored; their source partitions are processed now', {
          entries,
          ignoredForRebuild: counts.rebuild,
          resumes: attempt,
        });
        this.updateGauges();
        return;
      }
    } finally {
      progress();
      this.restoreRemaining.delete(id);
      this.metrics.ledgerRestoreRemaining.set([...this.restoreRemaining.values()].reduce((a, b) => a + b, 0));
    }
  }

  private updateGauges(): void {
    let entries = 0;
    let bytes = 0;
    let restoring = 0;
    for (const slot of this.slots.values()) {
      if (!slot.ready) restoring++;
      entries += slot.ready ? slot.index.size : 0;
      bytes += slot.index.bytes;
    }
    this.metrics.ledgerEntries.set(entries);
    this.metrics.ledgerBytes.set(bytes);
    this.metrics.ledgerRestoring.set(restoring);
  }
}

/**
 * Whether the entry stands for a strictly newer change than the outcome: a later occurredAt,
 * or a later offset at the same one.
 */
function isNewer(entry: LedgerEntry, o: Outcome): boolean {
  if (entry.occurredAt !== o.occurredAt) return entry.occurredAt > o.occurredAt;
  return entry.offset !== undefined && o.offset !== undefined && entry.offset > o.offset;
}

function newSlot(): Slot {
  let resolve!: () => void;
  const settled = new Promise<void>((r) => (resolve = r));
  return { index: new LedgerIndex(), markers: new Map(), profiles: new ProfileTable(), ready: false, settled, resolve };
}
