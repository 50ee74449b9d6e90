import { KafkajsModule } from './kafkajs-module.js';

/**
 * kafkajs groups each produced batch's messages per partition by copying the partition's array for every message
 * (`[...current, message]`), so a batch of n messages to one partition allocates n²/2 pointers. The ledger's
 * batches (up to the writer's 1,000 records, often to few partitions) made it the service's largest allocation:
 * 7.4 KB per event of 26.9 KB, by an allocation profile of the benchmark's JSON step. This one appends.
 *
 * kafkajs's sendMessages captures the function when kafkajs itself loads (on the first `import 'kafkajs'`), so
 * this module installs it when it is evaluated, and an entry point imports it before anything that imports
 * kafkajs: src/cli/index.ts and the benchmark's service role. Imported later, it installs nothing (and
 * createKafka says so); kafkajs keeps its own, which gives the same groups.
 */
type Partitioner = (args: { topic: string; partitionMetadata: unknown[]; message: unknown }) => number;

export interface GroupArgs<M> {
  topic: string;
  partitionMetadata: unknown[];
  messages: M[];
  partitioner: Partitioner;
}

/** The messages of each partition, in their order: what kafkajs 2.2.4's groupMessagesPerPartition returns. */
export function groupMessagesPerPartition<M>({
  topic,
  partitionMetadata,
  messages,
  partitioner,
}: GroupArgs<M>): Record<number, M[]> {
  const groups: Record<number, M[]> = {};
  if (partitionMetadata.length === 0) return groups;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    const group = groups[partition];
    if (group) group.push(message);
    else groups[partition] = [message];
  }
  return groups;
}

const grouping = new KafkajsModule<typeof groupMessagesPerPartition>(
  'kafkajs/src/producer/groupMessagesPerPartition.js',
  ['kafkajs/src/producer/sendMessages.js'],
  groupMessagesPerPartition,
);

/** Whether kafkajs's producers group with this one: installed before kafkajs loaded (idempotent). */
export function installPartitionGrouping(): boolean {
  return grouping.install();
}

/** kafkajs's own (the tests compare with it). */
export function kafkajsGroupMessagesPerPartition(): typeof groupMessagesPerPartition {
  return grouping.kafkajs();
}

installPartitionGrouping();
