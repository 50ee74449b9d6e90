import type { Config } from '../config/schema.js';
import { ConfigError, SyncError } from '../domain/errors.js';
import { tpKey } from '../ingest/source.js';
import type { From } from './from.js';

/**
 * What a replay covers, decided before it consumes anything: per partition, the first offset to read and the
 * end offset (exclusive) captured at start. Pure: the broker's answers come in as arguments (positions.ts asks).
 */
export interface PartitionRange {
  topic: string;
  partition: number;
  start: number;
  end: number;
}

export interface Watermarks {
  partition: number;
  low: number;
  high: number;
}

/**
 * Ranges of one topic. `fromTimestamp` / `toTimestamp` are the broker's offsets for the --from / --to times (the
 * first offset whose timestamp is at or after the time; the high watermark when there is none). A start outside
 * what the partition holds is clamped into it; a partition not named by --from offsets is not replayed.
 */
export function rangesOf(
  topic: string,
  marks: readonly Watermarks[],
  from: From,
  fromTimestamp?: ReadonlyMap<number, number>,
  toTimestamp?: ReadonlyMap<number, number>,
): PartitionRange[] {
  if (from.kind === 'offsets') {
    for (const p of from.offsets.keys()) {
      if (!marks.some((m) => m.partition === p))
        throw new SyncError(
          'USAGE',
          `replay: --from names partition ${p}, but ${topic} has partitions 0–${marks.length - 1}`,
          false,
        );
    }
  }
  return [...marks]
    .sort((a, b) => a.partition - b.partition)
    .map(({ partition, low, high }) => {
      let start: number;
      if (from.kind === 'earliest') start = low;
      else if (from.kind === 'timestamp') start = fromTimestamp?.get(partition) ?? high;
      else start = from.offsets.get(partition) ?? high;
      start = Math.min(Math.max(start, low), high);
      const end = Math.max(start, Math.min(high, toTimestamp?.get(partition) ?? high));
      return { topic, partition, start, end };
    });
}

export interface Progress {
  /** Offsets settled (committed) inside the ranges. */
  done: number;
  /** Offsets the ranges hold (records, and any transaction markers among them). */
  total: number;
  /** Every partition has committed up to its end. */
  complete: boolean;
}

/** How far the run got, from the offsets the replay group committed (tpKey → next offset to read). */
export function progressOf(ranges: readonly PartitionRange[], committed: ReadonlyMap<string, number>): Progress {
  let done = 0;
  let total = 0;
  let complete = true;
  for (const r of ranges) {
    const at = Math.min(Math.max(committed.get(tpKey(r.topic, r.partition)) ?? r.start, r.start), r.end);
    done += at - r.start;
    total += r.end - r.start;
    if (at < r.end) complete = false;
  }
  return { done, total, complete };
}

/**
 * The part of each range that can no longer be read: the partition's low watermark (`lows`, tpKey → offset) is
 * past the next offset the run has not yet seen (`positions`), so retention deleted `[position, min(low, end))`
 * before it was read. The consumer is reset past those offsets, so they never come; when the low watermark is
 * at or past the end, nothing of the range is left to wait for.
 */
export function lostToRetention(
  ranges: readonly PartitionRange[],
  positions: ReadonlyMap<string, number>,
  lows: ReadonlyMap<string, number>,
): PartitionRange[] {
  const lost: PartitionRange[] = [];
  for (const r of ranges) {
    const key = tpKey(r.topic, r.partition);
    const at = Math.min(Math.max(positions.get(key) ?? r.start, r.start), r.end);
    const low = lows.get(key);
    if (at < r.end && low !== undefined && low > at) lost.push({ ...r, start: at, end: Math.min(low, r.end) });
  }
  return lost;
}

/** `more` added to `lost`, a range that overlaps or touches one of its partition joined to it. */
export function joinLost(lost: readonly PartitionRange[], more: readonly PartitionRange[]): PartitionRange[] {
  const out = lost.map((l) => ({ ...l }));
  for (const m of more) {
    const same = out.find(
      (l) => l.topic === m.topic && l.partition === m.partition && m.start <= l.end && l.start <= m.end,
    );
    if (same) {
      same.start = Math.min(same.start, m.start);
      same.end = Math.max(same.end, m.end);
    } else out.push({ ...m });
  }
  return out;
}

/** The end offset of each partition, for ServiceOptions.endOffset: a partition outside the plan takes nothing. */
export function endOffsets(ranges: readonly PartitionRange[]): (topic: string, partition: number) => number {
  const ends = new Map(ranges.map((r) => [tpKey(r.topic, r.partition), r.end]));
  return (topic, partition) => ends.get(tpKey(topic, partition)) ?? 0;
}

/**
 * The replay's budget share of one connection: the part reserved for replays (replayShare) of what this
 * deployment owns: the whole account with budgetShare 'partitions', or its fixed budgetShare.
 */
export function replayBudgetShare(conn: Config['connections'][string]): number {
  return (conn.budgetShare === 'partitions' ? 1 : conn.budgetShare) * conn.replayShare;
}

/**
 * The config a replay runs with: only the replayed topics; each connection paced to its replay share as a
 * fixed budgetShare, nothing reserved on top (the live instances already leave that share free); metrics on any
 * free port, so the replay runs beside a live instance on the same host. A connection that an enabled export
 * uses and that reserves nothing for replays is refused: the replay would have no budget of its own.
 */
export function replayConfig(config: Config, topics: readonly string[]): Config {
  const used = new Set(config.exports.filter((e) => e.enabled).map((e) => e.connection));
  const connections: Config['connections'] = {};
  for (const [name, conn] of Object.entries(config.connections)) {
    if (used.has(name) && conn.replayShare <= 0) {
      throw new ConfigError(
        `connections.${name}.replayShare`,
        "is 0, so no part of the account budget is reserved for replays: set it (e.g. 0.3) in the live sync's " +
          "config too and restart the live sync, so that live and replay together stay within the account's limits",
      );
    }
    connections[name] = conn.replayShare > 0 ? { ...conn, budgetShare: replayBudgetShare(conn), replayShare: 0 } : conn;
  }
  // fromBeginning: a partition whose start offset retention deleted meanwhile goes on from what is left of it.
  const kafka = { ...config.kafka, topics: [...topics], fromBeginning: true };
  return { ...config, kafka, connections, http: { ...config.http, port: 0 } };
}
