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

export const tpKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;
