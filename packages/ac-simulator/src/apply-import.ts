import type { ImportContact } from './bulk-import.js';
import type { ImportOutcome } from './import-queue.js';
import type { SimulatorOptions } from './options.js';
import type { Store } from './store.js';

/**
 * A finished import, applied contact by contact: upsert, subscribe, unsubscribe (by 'service-bulk').
 * - A subscribe never changes a membership in status 2 (unsubscribed) or 3 (bounced). With unsubscribedConflict
 *   'failure' such a contact lands in `failure` and nothing of it is applied; with 'skip' only that subscribe is
 *   skipped.
 * - An unsubscribe of a membership already in status 2 changes nothing unless repeatUnsubscribeMovesUdate is set;
 *   then its udate moves and the change counts as the service's [UNCONFIRMED either way].
 * - An empty string in first_name, last_name, phone or a field value leaves the stored value unless
 *   emptyBulkValueClears is set; then it clears it [UNCONFIRMED either way]. A missing or null value always leaves it.
 * - A contact naming an unknown list lands in `failure` [UNCONFIRMED].
 * - `success` holds the ids of created contacts, and of updated ones too with importSuccessIncludesUpdated
 *   [UNCONFIRMED: AC documents created ones].
 */
export type ImportSettings = Pick<
  SimulatorOptions,
  'unsubscribedConflict' | 'repeatUnsubscribeMovesUdate' | 'emptyBulkValueClears' | 'importSuccessIncludesUpdated'
>;

const orKeep = (v: string | undefined, clears: boolean): string | undefined => (v === '' && !clears ? undefined : v);

/** Which kind of bulk contact created a contact: one with a subscribe, one with only unsubscribes, one with neither. */
export type BulkCreation = 'bulkSubscribe' | 'bulkUnsubscribeOnly' | 'bulkNoLists';

export function applyImport(
  store: Store,
  contacts: ImportContact[],
  settings: ImportSettings,
  onCreated: (kind: BulkCreation) => void = () => {},
): ImportOutcome {
  const outcome: ImportOutcome = { success: [], failure: [] };
  for (const c of contacts) {
    if ([...c.subscribe, ...c.unsubscribe].some((listId) => !store.lists.has(listId))) {
      outcome.failure.push(c.email);
      continue;
    }
    const existing = store.findByEmail(c.email);
    const blocked = new Set(
      existing ? c.subscribe.filter((l) => [2, 3].includes(store.membership(existing.id, l)?.status ?? 1)) : [],
    );
    if (blocked.size > 0 && settings.unsubscribedConflict === 'failure') {
      outcome.failure.push(c.email);
      continue;
    }
    const clears = settings.emptyBulkValueClears;
    const { contact, created } = store.upsertContact({
      email: c.email,
      firstName: orKeep(c.firstName, clears),
      lastName: orKeep(c.lastName, clears),
      phone: orKeep(c.phone, clears),
      fieldValues: c.fields.filter((f) => clears || f.value !== ''),
      tags: c.tags,
    });
    if (created)
      onCreated(
        c.subscribe.length > 0 ? 'bulkSubscribe' : c.unsubscribe.length > 0 ? 'bulkUnsubscribeOnly' : 'bulkNoLists',
      );
    for (const listId of c.subscribe)
      if (!blocked.has(listId)) store.setMembership(contact.id, listId, 1, { by: 'service-bulk' });
    for (const listId of c.unsubscribe) {
      const repeat = store.membership(contact.id, listId)?.status === 2;
      if (!repeat || settings.repeatUnsubscribeMovesUdate)
        store.setMembership(contact.id, listId, 2, { by: 'service-bulk' });
    }
    if (created || settings.importSuccessIncludesUpdated) outcome.success.push(contact.id);
  }
  return outcome;
}
