import { isRecord, json, paging, parseJson, scalarString, type Reply } from '../http.js';
import { renderContact, renderFieldValues, renderMembership } from '../render.js';
import { isPersonsOwn, type ContactRecord } from '../store.js';
import type { SimState } from '../state.js';
import { contactInput, duplicateEmail } from './contact-input.js';
import { errors, notFound, type ApiRequest, type Route } from './route.js';

/** Contacts and list memberships (CONTRACT.md §4.1–4.5). */

const written = (state: SimState, contact: ContactRecord, status = 201): Reply =>
  json(status, {
    fieldValues: renderFieldValues(contact, state.apiUrl),
    contact: renderContact(contact, state.apiUrl),
  });

/** POST /contact/sync: upsert by normalised email; 201 when created, syncUpdateStatus (201) when updated. */
function sync(state: SimState, req: ApiRequest): Reply {
  const input = contactInput(req);
  if ('status' in input) return input;
  const { contact, created } = state.store.upsertContact(input);
  if (created) state.countCreated('sync');
  return written(state, contact, created ? 201 : state.options.syncUpdateStatus);
}

/** POST /contacts: create only; an existing email is 422 duplicate. */
function create(state: SimState, req: ApiRequest): Reply {
  const input = contactInput(req);
  if ('status' in input) return input;
  if (state.store.findByEmail(input.email)) return duplicateEmail();
  state.countCreated('create');
  return written(state, state.store.create(input));
}

/**
 * GET /contacts: filters email (exact), email_like, listid (+ status), id_greater; orders[id]; limit/offset
 * (contactsIdPaging: false ignores id_greater and orders[id]).
 */
function list(state: SimState, req: ApiRequest): Reply {
  const q = req.url.searchParams;
  const { limit, offset } = paging(q, 20);
  const email = q.get('email');
  const like = q.get('email_like')?.toLowerCase();
  const listId = q.get('listid');
  const status = Number.parseInt(q.get('status') ?? '-1', 10);
  const idPaging = state.options.contactsIdPaging;
  const idGreater = idPaging ? Number.parseInt(q.get('id_greater') ?? '0', 10) || 0 : 0;
  // An email filter matches one contact at most: found by the index, not by a scan of every contact.
  const byEmail = email === null ? undefined : state.store.findByEmail(email);
  const candidates = email === null ? [...state.store.contacts.values()] : byEmail ? [byEmail] : [];
  let found = candidates.filter((c) => {
    if (like !== undefined && !c.email.includes(like)) return false;
    if (Number(c.id) <= idGreater) return false;
    if (listId !== null) {
      const m = state.store.membership(c.id, listId);
      if (!m || (status !== -1 && m.status !== status)) return false;
    }
    return true;
  });
  found.sort((a, b) => Number(a.id) - Number(b.id));
  if (idPaging && q.get('orders[id]')?.toUpperCase() === 'DESC') found = found.reverse();
  const page_input = {
    segmentid: null,
    formid: 0,
    listid: Number(listId ?? 0),
    tagid: 0,
    limit,
    offset,
    search: null,
    sort: null,
    seriesid: 0,
    waitid: 0,
    status,
    forceQuery: 0,
    cacheid: '',
  };
  return json(200, {
    scoreValues: [],
    contacts: found.slice(offset, offset + limit).map((c) => renderContact(c, state.apiUrl)),
    meta: { total: String(found.length), page_input },
  });
}

/** POST /contactLists: status 1 subscribes (also after 2: re-subscribes), 2 unsubscribes. */
function setStatus(state: SimState, req: ApiRequest): Reply {
  const parsed = parseJson(req.body);
  const cl = parsed.ok && isRecord(parsed.value) ? parsed.value.contactList : undefined;
  if (!isRecord(cl))
    return errors(400, { title: 'Invalid request: the body must be {"contactList":{…}}.', code: 'invalid' });
  const listId = scalarString(cl.list) ?? '';
  const contactId = scalarString(cl.contact) ?? '';
  const status = scalarString(cl.status);
  if (status !== '1' && status !== '2') {
    return errors(400, {
      title: 'The status must be 1 (subscribe) or 2 (unsubscribe).',
      code: 'invalid',
      pointer: '/data/attributes/status',
    });
  }
  // [UNCONFIRMED] shape of a third-party mock (CONTRACT §4.4).
  if (!state.store.lists.has(listId)) {
    return errors(400, {
      title: 'The related list does not exist.',
      code: 'related_missing',
      error: 'list_not_exist',
      pointer: '/data/attributes/list',
    });
  }
  const contact = state.store.contacts.get(contactId);
  if (!contact) {
    return errors(400, {
      title: 'The related contact does not exist.',
      code: 'related_missing',
      error: 'contact_not_exist',
      pointer: '/data/attributes/contact',
    });
  }
  const before = state.store.membership(contactId, listId);
  if (status === '1' && isPersonsOwn(before)) state.counters.forcedResubscribes++;
  const sourceid = scalarString(cl.sourceid);
  const { membership } = state.store.setMembership(contactId, listId, status === '1' ? 1 : 2, {
    by: 'service-contactLists',
    sourceid,
  });
  return json(200, {
    contacts: [renderContact(contact, state.apiUrl)],
    contactList: renderMembership(membership, contact, state.apiUrl, 'number'),
  });
}

/** GET /contacts/{id}/contactLists. */
function memberships(state: SimState, req: ApiRequest): Reply {
  const id = req.params.id ?? '';
  const contact = state.store.contacts.get(id);
  if (!contact) return notFound('Subscriber', id);
  return json(200, {
    contactLists: state.store.membershipsOf(id).map((m) => renderMembership(m, contact, state.apiUrl, 'string')),
  });
}

export const contactRoutes: Route[] = [
  { method: 'POST', template: '/contact/sync', handler: sync },
  { method: 'POST', template: '/contacts', handler: create },
  { method: 'GET', template: '/contacts', handler: list },
  { method: 'POST', template: '/contactLists', handler: setStatus },
  { method: 'GET', template: '/contacts/{id}/contactLists', handler: memberships },
];
