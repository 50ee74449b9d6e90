/**
 * A header value as read: a name repeated in the record has the array of its values, and a value may be null
 * (librdkafka writes one; kafkajs's encoder cannot write it back).
 */
export type SourceHeaderValue = Buffer | string | null | (Buffer | string | null)[];

/** A record as read from Kafka, independent of the client library. */
export interface SourceMessage {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  /** As kafkajs hands them: a name repeated in the record has the array of its values. */
  headers: Record<string, SourceHeaderValue | undefined>;
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

const NO_HEADERS: SourceMessage['headers'] = Object.freeze({});

/**
 * What an unsettled event keeps of its record. kafkajs hands out `key`, `value` and header values as slices of
 * the whole fetch response (up to 4 MiB per partition), so one kept slice would keep all of it. This keeps a
 * copy of exactly the record's bytes instead, for a later dead letter: key and value as Latin-1 strings (one
 * byte per byte: a string costs far less heap than a Buffer), turned back into Buffers only when read.
 * A record without headers shares one empty object.
 */
class KeptMessage implements SourceMessage {
  readonly headers: SourceMessage['headers'];

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly offset: number,
    readonly timestamp: number,
    headers: SourceMessage['headers'],
    /** undefined: no key (or value) */
    private readonly keyBytes: string | undefined,
    private readonly valueBytes: string | undefined,
  ) {
    this.headers = headers;
  }

  get key(): Buffer | null {
    return this.keyBytes === undefined ? null : Buffer.from(this.keyBytes, 'latin1');
  }

  get value(): Buffer | null {
    return this.valueBytes === undefined ? null : Buffer.from(this.valueBytes, 'latin1');
  }

  /** Bytes of the record kept: counted in buffer.maxBufferedBytes. */
  get keptBytes(): number {
    let n = (this.keyBytes?.length ?? 0) + (this.valueBytes?.length ?? 0);
    for (const name in this.headers) {
      const v = this.headers[name];
      if (Array.isArray(v)) for (const one of v) n += name.length + (one?.length ?? 0);
      else n += name.length + (v?.length ?? 0);
    }
    return n;
  }
}

export function retain(m: SourceMessage): SourceMessage & { readonly keptBytes: number } {
  const names = Object.keys(m.headers);
  // fromEntries defines own properties: a header named "__proto__" stays a header (an assignment would set the
  // object's prototype instead).
  const headers: SourceMessage['headers'] = names.length
    ? Object.fromEntries(
        names.map((name) => {
          const v = m.headers[name];
          const kept: SourceHeaderValue | undefined = Array.isArray(v)
            ? v.map(copyOf)
            : v === undefined
              ? v
              : copyOf(v);
          return [name, kept];
        }),
      )
    : NO_HEADERS;
  return new KeptMessage(
    m.topic,
    m.partition,
    m.offset,
    m.timestamp,
    headers,
    m.key?.toString('latin1'),
    m.value?.toString('latin1'),
  );
}

/** A header value that shares no memory with the fetch response. */
const copyOf = <V extends Buffer | string | null>(v: V): V => (Buffer.isBuffer(v) ? (Buffer.from(v) as V) : v);

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
