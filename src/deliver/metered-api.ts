import type { RateBudget } from './budget.js';
import type { AcApi } from './client.js';
import type { Clock } from './clock.js';

/**
 * An account's client as its budget sees it: each call tells the budget when it went and when its answer (or
 * failure) came back, on the budget's clock (request-arrivals.ts). One wrapper at the edge, so that no
 * request is left out whichever part spent its slot: imports, polls, the job queues, email changes, profile
 * lookups and the readiness probe all go through it. `close` is passed through as it is.
 */
export function meteredApi(client: AcApi, budget: Pick<RateBudget, 'sent' | 'answered'>, clock: Clock): AcApi {
  return new Proxy(client, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function' || key === 'close') return value;
      return async (...args: unknown[]) => {
        const id = budget.sent(clock.now());
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } finally {
          budget.answered(id, clock.now());
        }
      };
    },
  });
}
