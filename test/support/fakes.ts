/** The test doubles: a producer whose answers the test scripts, and a clock that moves when the test says. */
import kafkajs, { type Producer, type ProducerBatch } from 'kafkajs';
import type { Clock } from '../../src/kafka/clock.js';

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
  const answer = new KafkaJSProtocolError({
    message: `broker says ${type}`,
    type,
    code: 0,
    retriable,
  } as unknown as Error);
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

/** A clock that moves only when the test says so: sleepers wake in time order as it advances. */
export class VirtualClock implements Clock {
  private t = 0;
  private timers: { at: number; wake: () => void }[] = [];

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted || ms <= 0) return resolve();
      const timer = {
        at: this.t + ms,
        wake: () => {
          this.timers = this.timers.filter((x) => x !== timer);
          signal?.removeEventListener('abort', timer.wake);
          resolve();
        },
      };
      this.timers.push(timer);
      signal?.addEventListener('abort', timer.wake, { once: true });
    });
  }

  /** Durations of the sleeps under way, from now. */
  get sleeps(): number[] {
    return this.timers.map((x) => x.at - this.t).sort((a, b) => a - b);
  }

  advance(ms: number): void {
    this.t += ms;
    for (const timer of [...this.timers].sort((a, b) => a.at - b.at)) if (timer.at <= this.t) timer.wake();
  }

  /** Moves to the earliest sleep's end and wakes it (and any due with it). */
  next(): void {
    const at = Math.min(...this.timers.map((x) => x.at));
    if (Number.isFinite(at)) this.advance(Math.max(0, at - this.t));
  }
}

/** Lets queued callbacks and I/O run until `check` holds (a bounded number of event-loop turns, no wall time). */
export async function until(check: () => boolean, what: string, turns = 2_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (check()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`never happened: ${what}`);
}
