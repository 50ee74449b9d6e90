import type { ListChange } from '../buffer/contact-entry.js';
import type { DeliveryGate } from '../deliver/outcomes.js';
import type { Route, Window } from '../ledger/decide.js';

/**
 * The person's own opt-outs (the consent topic) in delivery's routing, pure: an add of a person who opted out of
 * the list leaves the bulk import body (so ActiveCampaign never refuses it) and its membership is read after the
 * import, where the consent table (src/deliver/consent.ts, place `opted-out`) keeps them out, or leaves an
 * active membership alone. An opt-out counts only outside the window of the service's own unsubscribe: one
 * dated inside it may be the service's own request echoed back. It never changes a stale route or a refused
 * re-entry (reentry: false), and it is never used to judge staleness.
 */
export function withOptOut(route: Route, op: 'add' | 'remove', optedOutAt: number | undefined): Route {
  if (op !== 'add' || optedOutAt === undefined) return route;
  if (route.kind === 'import') return { kind: 'resubscribe', optedOut: optedOutAt };
  if (route.kind !== 'resubscribe') return route;
  if (route.window && inside(optedOutAt, route.window)) return route;
  return { ...route, optedOut: optedOutAt };
}

function inside(t: number, w: Window): boolean {
  if (w.earlier && t >= w.earlier.from && t <= w.earlier.to) return true;
  return t >= w.from && t <= w.to;
}

/** Where the opt-outs are held: the newest opt-out of (connection, email) from the list, or undefined. */
export interface OptOuts {
  optedOut(connection: string, email: string, listId: string): number | undefined;
}

/** A delivery gate that asks the opt-outs after the ledger: everything but route() is the ledger's. */
export function consentGate<R>(inner: DeliveryGate<R>, optOuts: OptOuts): DeliveryGate<R> {
  return {
    route: (connection: string, email: string, listId: string, change: ListChange<R>) =>
      withOptOut(
        inner.route(connection, email, listId, change),
        change.op,
        optOuts.optedOut(connection, email, listId),
      ),
    intend: (connection, removes, at) => inner.intend(connection, removes, at),
    live: (ref) => inner.live(ref),
    ...(inner.knows
      ? { knows: (connection: string, email: string, ref: R) => inner.knows!(connection, email, ref) }
      : {}),
    ...(inner.profiles ? { profiles: inner.profiles } : {}),
    ...(inner.withdraw
      ? {
          withdraw: (
            connection: string,
            removes: Parameters<NonNullable<DeliveryGate<R>['withdraw']>>[1],
            at: number,
          ) => inner.withdraw!(connection, removes, at),
        }
      : {}),
  };
}
