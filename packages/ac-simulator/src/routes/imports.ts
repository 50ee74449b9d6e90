import { bulkRateLimitReply, parseBulkBody, validateContacts } from '../bulk-import.js';
import { json, type Reply } from '../http.js';
import type { SimState } from '../state.js';
import { notFound, type ApiRequest, type Route } from './route.js';

/** Bulk import and its status (CONTRACT.md §4.8–4.10). Check order: see bulk-import.ts. */

function bulkImport(state: SimState, req: ApiRequest): Reply {
  const { limits, failureIndexBase, validation400Shape } = state.options;
  const parsed = parseBulkBody(req.body, limits.maxBodyBytes);
  if (!parsed.ok) return parsed.reply;
  const single = parsed.entries.length === 1;
  const bulk = state.limiter.admitBulk(single ? 'single' : 'multi', req.now, req.admission);
  if (!bulk.ok) {
    state.counters.bulkRateLimited400++;
    return bulkRateLimitReply(bulk.refusedBy === 'single' ? limits.bulkSinglePerMinute : limits.bulkMultiPerMinute);
  }
  const checked = validateContacts(parsed.entries, limits.maxContactsPerImport, failureIndexBase, validation400Shape);
  if (!checked.ok) return checked.reply;
  const { contacts } = checked;
  const batchId = state.imports.enqueue(contacts, state.planImport());
  const c = state.counters;
  c.importsAccepted++;
  c.contactsImported += contacts.length;
  c.maxContactsInImport = Math.max(c.maxContactsInImport, contacts.length);
  return json(200, { Success: 1, queued_contacts: contacts.length, batchId, message: 'Contact import queued' });
}

/** GET /import/info?batchId=: 400 without it (SPEC); 404 for an unknown one [UNCONFIRMED]. */
function importInfo(state: SimState, req: ApiRequest): Reply {
  const batchId = req.url.searchParams.get('batchId')?.trim();
  if (!batchId) return json(400, { success: 0, message: "'batchId' is a required field." });
  const info = state.imports.info(batchId);
  return info ? json(200, info) : notFound('Import', batchId);
}

function importAggregates(state: SimState): Reply {
  return json(200, state.imports.aggregates());
}

export const importRoutes: Route[] = [
  { method: 'POST', template: '/import/bulk_import', handler: bulkImport },
  { method: 'GET', template: '/import/bulk_import', handler: importAggregates },
  { method: 'GET', template: '/import/info', handler: importInfo },
];
