import type { Metrics } from './metrics.js';

/** What the per-list buffer gauges need of an account (AccountDelivery has it). */
export interface ListCounts {
  readonly buffer: { perList(): Map<string, { contacts: number; bytes: number }> };
}

/**
 * Buffered contacts and bytes per list, computed when /metrics is scraped (a walk over the buffer: too costly per
 * batch, cheap every 15 s). Every configured (connection, list) is exported, at 0 when empty. Returns an undo.
 */
export function trackBuffersPerList(
  metrics: Metrics,
  accounts: ReadonlyMap<string, ListCounts>,
  lists: readonly { connection: string; listId: string }[],
): () => void {
  const update = () => {
    metrics.bufferedListContacts.reset();
    metrics.bufferedListBytes.reset();
    for (const { connection, listId } of lists) {
      metrics.bufferedListContacts.set({ connection, list: listId }, 0);
      metrics.bufferedListBytes.set({ connection, list: listId }, 0);
    }
    for (const [connection, account] of accounts) {
      for (const [list, n] of account.buffer.perList()) {
        metrics.bufferedListContacts.set({ connection, list }, n.contacts);
        metrics.bufferedListBytes.set({ connection, list }, n.bytes);
      }
    }
  };
  metrics.beforeScrape.push(update);
  return () => {
    const i = metrics.beforeScrape.indexOf(update);
    if (i >= 0) metrics.beforeScrape.splice(i, 1);
  };
}
