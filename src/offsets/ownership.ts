import { tpKey } from '../ingest/source.js';

/**
 * Which source partitions this member owns, and in which group generation: the one place that knows. Every join
 * starts a new generation; kafkajs restarts every assigned partition from its committed offset, so work of an
 * earlier generation never moves an offset, and the events it held are fetched again by their owner.
 */
export class Ownership {
  private gen = 0;
  private owned = new Set<string>();

  get generation(): number {
    return this.gen;
  }

  /** The partitions owned now, per topic. */
  get size(): number {
    return this.owned.size;
  }

  /** A new assignment: a new generation. Returns it. */
  assign(assignment: Record<string, number[]>): number {
    this.gen++;
    this.owned = new Set(
      Object.entries(assignment).flatMap(([topic, partitions]) => partitions.map((p) => tpKey(topic, p))),
    );
    return this.gen;
  }

  owns(topic: string, partition: number): boolean {
    return this.owned.has(tpKey(topic, partition));
  }

  /** Whether work fetched in `generation` still counts (it was fetched since the last join). */
  isCurrent(generation: number): boolean {
    return generation === this.gen;
  }

  /** Every owned partition, as [topic, partition]. */
  *partitions(): Iterable<[string, number]> {
    for (const key of this.owned) {
      const i = key.lastIndexOf('\u0000');
      yield [key.slice(0, i), Number(key.slice(i + 1))];
    }
  }
}
