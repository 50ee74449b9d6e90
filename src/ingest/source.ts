/** A record as read from Kafka, independent of the client library. */
export interface SourceMessage {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | string | undefined>;
  /** Kafka timestamp (append or create time), epoch ms. */
  timestamp: number;
}

/**
 * One event's share of work for one export: it settles (commit may pass it) or is dead-lettered. `generation`
 * ties it to the group generation that fetched it, so a settle after a rebalance cannot move an offset.
 */
export interface EventRef {
  readonly message: SourceMessage;
  readonly generation: number;
  /** Which of the event's shares this is: the export's position among those the event maps to. */
  readonly share: number;
  readonly exportName: string;
  readonly occurredAt: number;
}

/** Set by `dlq replay` on a re-published dead letter (src/dlq/inspect.ts reads it too). */
const REPLAYED_FROM = 'dlq.replayed.from';

/**
 * The offset that orders an event among changes of equal occurredAt: its own, or none for a copy re-published
 * by `dlq replay` (at a new offset), which must never win over a change already applied.
 */
export function tieOffset(message: SourceMessage): number | undefined {
  return message.headers[REPLAYED_FROM] === undefined ? message.offset : undefined;
}

export const tpKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;
