import { membershipDiff } from '../src/dev/sample/events.js';
import type { SimulatorSnapshot } from '../packages/ac-simulator/src/index.js';
import { expectedMembership, listOf, type Workload } from './workload.js';

/**
 * Whether a run did the right thing, whatever its speed: the simulator's final membership against the newest
 * event per (list, email) of the workload written (the demo's check, src/dev/sample/events.ts membershipDiff), and
 * the dead letters by stage and code against those the workload should make. Pure.
 */
export interface MembershipCheck {
  /** (list, email) pairs the workload touched. */
  checked: number;
  differences: number;
  /** The first few differences, as membershipDiff words them (the workload's synthetic emails). */
  examples: string[];
}

/** Runs in the simulator's process (bench/roles/simulator.ts), where the members are: only the counts cross. */
export function checkMembership(lists: SimulatorSnapshot['lists'], slices: readonly Workload[]): MembershipCheck {
  const expected = expectedMembership(slices);
  const diffs = membershipDiff(expected, listOf, (id) => lists[id]?.members ?? {});
  let checked = 0;
  for (const byEmail of expected.values()) checked += byEmail.size;
  return { checked, differences: diffs.length, examples: diffs.slice(0, 3) };
}

/** Dead letters counted by the service (ac_list_sync_dead_letters_total), keyed `stage/code`. */
export type DeadLetterCounts = Record<string, number>;

/** Lines naming each stage/code whose count differs from the expected one; empty when they agree. */
export function deadLetterDifferences(actual: DeadLetterCounts, expected: DeadLetterCounts): string[] {
  const keys = [...new Set([...Object.keys(actual), ...Object.keys(expected)])].sort();
  return keys
    .filter((k) => (actual[k] ?? 0) !== (expected[k] ?? 0))
    .map((k) => `${k}: ${actual[k] ?? 0} dead letters, ${expected[k] ?? 0} expected`);
}
