import { sleep } from '../domain/sleep.js';

/**
 * Time as schedulers see it, injected so tests drive it (test/support/fakes.ts) instead of sleeping.
 * `sleep` resolves early, without an error, when `signal` aborts: the caller checks why it woke.
 */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = { now: () => Date.now(), sleep };
