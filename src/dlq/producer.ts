import type { Admin, CompressionTypes, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { AckedWriter } from '../kafka/acked-writer.js';
import type { Clock } from '../kafka/clock.js';
import type { Metrics } from '../observability/metrics.js';
import { dlqTopicFor, shrinkDeadLetterRecord, toDeadLetterRecord, type DeadLetter } from './envelope.js';

export interface DeadLetterWriterOptions {
  /** Reads each dead-letter topic's max.message.bytes; without it `maxMessageBytes` (default Kafka's) is assumed. */
  admin?: Pick<Admin, 'describeConfigs'>;
  compression?: CompressionTypes;
  maxMessageBytes?: number;
  clock?: Clock;
  random?: () => number;
}

/**
 * The acked writer of dead letters: one letter per record on `<template with the source topic>`, acknowledged by
 * all in-sync replicas. A letter over the topic's limit is written with its value cut (shrinkDeadLetterRecord):
 * never left unwritten for being large.
 */
export function createDeadLetterWriter(
  producer: Pick<Producer, 'sendBatch'>,
  topicTemplate: string,
  metrics: Metrics,
  log: Logger,
  o: DeadLetterWriterOptions = {},
  now: () => number = Date.now,
): AckedWriter<DeadLetter> {
  const encode = (letter: DeadLetter) => ({
    topic: dlqTopicFor(letter.message.topic, topicTemplate),
    ...toDeadLetterRecord(letter, now()),
  });
  return new AckedWriter<DeadLetter>({
    name: 'dead_letter',
    producer,
    ...o,
    encode,
    shrink: (letter, limitBytes) => ({
      topic: dlqTopicFor(letter.message.topic, topicTemplate),
      ...shrinkDeadLetterRecord(toDeadLetterRecord(letter, now()), limitBytes),
    }),
    onWritten: (letters) => {
      for (const l of letters) metrics.deadLetters.inc({ stage: l.stage, code: l.code });
    },
    metrics,
    log,
  });
}

/**
 * Thin adapter over the acked writer, for the callers of `push(letter, onWritten)`: `onWritten` runs only after
 * the broker acknowledged the letter, so the source offsets it stands for may then be committed. A letter left
 * unwritten (closed, discarded) never calls it: its offsets stay uncommitted.
 */
export class DeadLetterProducer {
  readonly writer: AckedWriter<DeadLetter>;

  constructor(
    producer: Pick<Producer, 'sendBatch'>,
    topicTemplate: string,
    metrics: Metrics,
    log: Logger,
    o: DeadLetterWriterOptions = {},
  ) {
    this.writer = createDeadLetterWriter(producer, topicTemplate, metrics, log, o);
  }

  /** Resolves once the broker acknowledged the letter; rejects with WriterClosedError or DiscardedError. */
  write(letter: DeadLetter): Promise<void> {
    return this.writer.write(letter);
  }

  push(letter: DeadLetter, onWritten: () => void): void {
    this.writer.write(letter).then(onWritten, () => undefined);
  }

  get backlog(): number {
    return this.writer.backlog;
  }

  /** Writes what is queued until the deadline, then stops; says how many letters stayed unwritten. */
  close(deadlineMs = 10_000): Promise<{ unwritten: number }> {
    return this.writer.close(deadlineMs);
  }
}
