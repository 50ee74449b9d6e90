import { SyncError } from '../domain/errors.js';

/**
 * Where a replay starts: the earliest retained record, the first record at or after a time, or given offsets.
 * Pure parsing of the command line's `--from`, `--to` and `--group`; the Kafka side is positions.ts.
 */
export type From =
  | { kind: 'earliest' }
  | { kind: 'timestamp'; at: number }
  | { kind: 'offsets'; offsets: ReadonlyMap<number, number> };

const usage = (message: string) => new SyncError('USAGE', `replay: ${message}`, false);

/** `earliest`, an ISO timestamp with a date and a time, or `partition:offset[,partition:offset…]`. */
export function parseFrom(text: string): From {
  const value = text.trim();
  if (value === 'earliest') return { kind: 'earliest' };
  if (/^\d+:\d+(,\d+:\d+)*$/.test(value)) {
    const offsets = new Map<number, number>();
    for (const pair of value.split(',')) {
      const [partition, offset] = pair.split(':').map(Number) as [number, number];
      if (offsets.has(partition)) throw usage(`--from names partition ${partition} twice`);
      if (!Number.isSafeInteger(offset)) throw usage(`--from offset ${pair} is too large`);
      offsets.set(partition, offset);
    }
    return { kind: 'offsets', offsets };
  }
  return { kind: 'timestamp', at: parseTimestamp(value, '--from') };
}

/**
 * An ISO 8601 date-time such as 2026-11-28T10:00:00Z. Without a zone it is read as UTC, so the same command
 * means the same instant on every machine. A bare date or any other form is refused.
 */
export function parseTimestamp(text: string, option: string): number {
  const value = text.trim();
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i.test(value)) {
    throw usage(
      `${option} must be "earliest", an ISO timestamp such as 2026-11-28T10:00:00Z, ` +
        `or partition:offset pairs such as 0:1200,1:980; got "${text}"`,
    );
  }
  const zoned = /(Z|[+-]\d{2}:?\d{2})$/i.test(value) ? value : `${value}Z`;
  const at = Date.parse(zoned);
  if (!Number.isFinite(at)) throw usage(`${option} is not a valid date-time: "${text}"`);
  return at;
}

/** The replay's consumer group: the one given, or `<live group>-replay-<UTC time>`. Never the live group. */
export function replayGroup(liveGroup: string, given: string | undefined, now: number): string {
  if (given !== undefined) {
    if (given.trim() === '') throw usage('--group must not be empty');
    if (given === liveGroup) {
      throw usage(
        `--group "${given}" is the live sync's consumer group (kafka.groupId); ` +
          "a replay needs a group of its own, or it would move the live sync's offsets",
      );
    }
    return given;
  }
  const stamp = new Date(now)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${liveGroup}-replay-${stamp}`;
}
