import kafkajs, { type Producer, type ProducerBatch } from 'kafkajs';

const { KafkaJSProtocolError, KafkaJSNonRetriableError, KafkaJSConnectionError } = kafkajs;

export interface SentRecord {
  topic: string;
  partition: number | undefined;
  key: string;
  value: Buffer;
  headers: Record<string, Buffer | string>;
}

/** A broker refusal as kafkajs reports it: a non-retriable error around the protocol error. */
export function protocolError(type: string, retriable = false): Error {
  const answer = new KafkaJSProtocolError({ message: `broker says ${type}`, type, code: 0, retriable } as unknown as Error);
  return Object.assign(new KafkaJSNonRetriableError(answer), { cause: answer });
}

export const connectionError = () => new KafkaJSConnectionError('Connection error: ECONNREFUSED');

/**
 * A producer whose answers the test scripts: `refuse(record)` names the error a record is refused with (one
 * refused record fails its whole request, as on a real broker); `outages` fails that many next requests whole;
 * `hold` keeps requests in flight until released. Records of a request are acknowledged together.
 */
export class ScriptedProducer {
  readonly requests: SentRecord[][] = [];
  readonly written: SentRecord[] = [];
  refuse: (r: SentRecord) => Error | undefined = () => undefined;
  outages = 0;
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;
  inFlight = 0;
  maxInFlight = 0;

  readonly producer = {
    sendBatch: async (batch: ProducerBatch) => {
      const records: SentRecord[] = (batch.topicMessages ?? []).flatMap((t) =>
        t.messages.map((m) => ({
          topic: t.topic,
          partition: m.partition,
          key: m.key === null || m.key === undefined ? '' : m.key.toString(),
          value: Buffer.isBuffer(m.value) ? m.value : Buffer.from(m.value ?? ''),
          headers: (m.headers ?? {}) as Record<string, Buffer | string>,
        })),
      );
      this.requests.push(records);
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      try {
        await Promise.resolve();
        if (this.gate) await this.gate;
        if (this.outages > 0) {
          this.outages--;
          throw connectionError();
        }
        for (const r of records) {
          const err = this.refuse(r);
          if (err) throw err;
        }
        this.written.push(...records);
        return [];
      } finally {
        this.inFlight--;
      }
    },
  } as unknown as Pick<Producer, 'sendBatch'>;

  /** Requests wait from now until release(). */
  hold(): void {
    this.gate ??= new Promise<void>((r) => (this.open = r));
  }

  release(): void {
    this.open?.();
    this.gate = undefined;
    this.open = undefined;
  }

  keysWritten(): string[] {
    return this.written.map((r) => r.key);
  }
}
