import { json, type Reply } from '../http.js';
import { renderContact, renderContactTag, renderFieldValues, renderMembership } from '../render.js';
import type { SimState } from '../state.js';
import type { ContactRecord } from '../store.js';
import { contactPatch, duplicateEmail } from './contact-input.js';
import { notFound, type ApiRequest, type Route } from './route.js';

/**
 * One contact by id: GET, PUT (update, email included) and DELETE /contacts/{id} (AC's spec; not in CONTRACT.md,
 * see README "Contacts by id").
 */

/** GET /contacts/{id}: the contact with its lists, tags and field values (a subset of the spec's arrays). */
function get(state: SimState, req: ApiRequest): Reply {
  const id = req.params.id ?? '';
  const contact = state.store.contacts.get(id);
  if (!contact) return notFound('Subscriber', id);
  const api = state.apiUrl;
  return json(200, {
    contactLists: state.store.membershipsOf(id).map((m) => renderMembership(m, contact, api, 'string')),
    contactTags: state.store.tagging.ofContact(id).map((ct) => renderContactTag(ct, api)),
    fieldValues: renderFieldValues(contact, api),
    contact: renderContact(contact, api),
  });
}

/**
 * PUT /contacts/{id}: 200 {fieldValues, contact} (SPEC); 404 "Subscriber" for an unknown id (SPEC); an email
 * another contact has is answered as `takenEmailAnswer` says (422 duplicate by default, as POST /contacts answers;
 * 400 or 409; or 200 with the contact unchanged) [UNCONFIRMED]; a bad email is 400 as on sync.
 */
function update(state: SimState, req: ApiRequest): Reply {
  const id = req.params.id ?? '';
  const contact = state.store.contacts.get(id);
  if (!contact) return notFound('Subscriber', id);
  const patch = contactPatch(req);
  if ('status' in patch) return patch;
  const owner = patch.email === undefined ? undefined : state.store.findByEmail(patch.email);
  if (owner && owner.id !== id) return taken(state, contact);
  state.store.updateContact(contact, patch);
  return json(200, {
    fieldValues: renderFieldValues(contact, state.apiUrl),
    contact: renderContact(contact, state.apiUrl),
  });
}

/** The answer for an email that belongs to another contact, in the shape `takenEmailAnswer` picks. */
function taken(state: SimState, contact: ContactRecord): Reply {
  const shape = state.options.takenEmailAnswer;
  if (shape === '409') return { status: 409, body: { message: 'Email address already exists in the system' } };
  if (shape === 'ignored')
    return json(200, {
      fieldValues: renderFieldValues(contact, state.apiUrl),
      contact: renderContact(contact, state.apiUrl),
    });
  return duplicateEmail(shape === '400' ? 400 : 422);
}

/**
 * DELETE /contacts/{id}: 200 {} (SPEC); 404 {"message":"No result found for contact with id N"} (SPEC, in that
 * wording, unlike the other 404s). The contact, its memberships and contact tags go; an import still in flight
 * that names the email creates it again, with a new id.
 */
function remove(state: SimState, req: ApiRequest): Reply {
  const id = req.params.id ?? '';
  if (state.options.refuseDeletes)
    return { status: 403, body: { message: 'You do not have permission to delete contacts.' } };
  if (!state.store.deleteContact(id))
    return { status: 404, body: { message: `No result found for contact with id ${id}` } };
  state.counters.contactsDeleted++;
  return json(200, {});
}

export const contactRecordRoutes: Route[] = [
  { method: 'GET', template: '/contacts/{id}', handler: get },
  { method: 'PUT', template: '/contacts/{id}', handler: update },
  { method: 'DELETE', template: '/contacts/{id}', handler: remove },
];
