import { isRecord, json, paging, parseJson, scalarString, type Reply } from '../http.js';
import { renderContactTag, renderTag } from '../render.js';
import type { SimState } from '../state.js';
import { notFound, type ApiRequest, type Route } from './route.js';

/**
 * Tags and contact tags (not in CONTRACT.md; shapes from AC's published spec, see README "Tags"):
 *   GET /tags?search=&filters[search][op]=&limit=&offset=   POST /tags   GET /tags/{id}
 *   POST /contactTags {"contactTag":{contact,tag}}          DELETE /contactTags/{id}
 *   GET /contacts/{id}/contactTags
 */

/** The errors[] shape of the spec's POST /contactTags 404 and 422 examples (with a numeric status inside). */
const specError = (status: number, title: string, extra: Record<string, unknown>): Reply => ({
  status,
  body: { errors: [{ status, title, ...extra }] },
});

/** `search` ("contains") or filters[search][eq|neq|lt|lte|gt|gte|contains|starts_with], case-insensitive. */
function searchFilter(q: URLSearchParams): (name: string) => boolean {
  const tests: Array<(n: string) => boolean> = [];
  const plain = q.get('search');
  if (plain !== null) tests.push((n) => n.includes(plain.toLowerCase()));
  for (const [key, raw] of q) {
    const m = /^filters\[search\]\[(\w+)\]$/.exec(key);
    if (!m) continue;
    const v = raw.toLowerCase();
    const op = m[1];
    tests.push((n) =>
      op === 'eq'
        ? n === v
        : op === 'neq'
          ? n !== v
          : op === 'lt'
            ? n < v
            : op === 'lte'
              ? n <= v
              : op === 'gt'
                ? n > v
                : op === 'gte'
                  ? n >= v
                  : op === 'starts_with'
                    ? n.startsWith(v)
                    : n.includes(v),
    );
  }
  return (name) => tests.every((t) => t(name.toLowerCase()));
}

function listTags(state: SimState, req: ApiRequest): Reply {
  const q = req.url.searchParams;
  const { limit, offset } = paging(q, 20);
  const keep = searchFilter(q);
  const found = [...state.store.tagging.tags.values()]
    .filter((t) => keep(t.tag))
    .sort((a, b) => Number(a.id) - Number(b.id));
  return json(200, {
    tags: found.slice(offset, offset + limit).map((t) => renderTag(t, state.apiUrl)),
    meta: { total: String(found.length) },
  });
}

function getTag(state: SimState, req: ApiRequest): Reply {
  const id = req.params.id ?? '';
  const tag = state.store.tagging.tags.get(id);
  return tag ? json(200, { tag: renderTag(tag, state.apiUrl) }) : notFound('Tag', id);
}

/** POST /tags: 201 {tag}; a name already taken is 422 [UNCONFIRMED: the spec shows no error]. */
function createTag(state: SimState, req: ApiRequest): Reply {
  const parsed = parseJson(req.body);
  const t = parsed.ok && isRecord(parsed.value) ? parsed.value.tag : undefined;
  const name = isRecord(t) ? scalarString(t.tag)?.trim() : undefined;
  if (!isRecord(t) || !name)
    return specError(422, 'Missing attribute', { source: { pointer: '/data/attributes/tag' } });
  if (state.store.tagging.findByName(name))
    return specError(422, 'Duplicate entry', {
      detail: 'A tag with this name already exists',
      source: { pointer: '/data/attributes/tag' },
    });
  const { tag } = state.store.tagging.ensure(
    name,
    scalarString(t.description) ?? '',
    scalarString(t.tagType) ?? 'contact',
  );
  return json(201, { tag: renderTag(tag, state.apiUrl) });
}

/** POST /contactTags: 201 {contactTag}; 422 for a missing attribute and 404 for an unknown contact (SPEC). */
function addContactTag(state: SimState, req: ApiRequest): Reply {
  const parsed = parseJson(req.body);
  const ct = parsed.ok && isRecord(parsed.value) ? parsed.value.contactTag : undefined;
  const contactId = isRecord(ct) ? scalarString(ct.contact) : undefined;
  const tagId = isRecord(ct) ? scalarString(ct.tag) : undefined;
  if (contactId === undefined)
    return specError(422, 'Missing attribute', { source: { pointer: '/data/attributes/contact' } });
  if (tagId === undefined) return specError(422, 'Missing attribute', { source: { pointer: '/data/attributes/tag' } });
  if (!state.store.contacts.has(contactId)) return specError(404, 'Not Found', { detail: 'Contact not found' });
  // [UNCONFIRMED] the spec shows no answer for an unknown tag; the contact's 404 shape is assumed.
  if (!state.store.tagging.tags.has(tagId)) return specError(404, 'Not Found', { detail: 'Tag not found' });
  const { contactTag } = state.store.tagging.tagContact(contactId, tagId);
  return json(201, { contactTag: renderContactTag(contactTag, state.apiUrl) });
}

/** DELETE /contactTags/{id}: 200 {} or 404 "SubscriberTag" (SPEC). */
function removeContactTag(state: SimState, req: ApiRequest): Reply {
  const id = req.params.id ?? '';
  return state.store.tagging.untag(id) ? json(200, {}) : notFound('SubscriberTag', id);
}

/** GET /contacts/{id}/contactTags: 200 {contactTags:[…]}; 404 "Subscriber" for an unknown contact [UNCONFIRMED]. */
function contactTags(state: SimState, req: ApiRequest): Reply {
  const id = req.params.id ?? '';
  if (!state.store.contacts.has(id)) return notFound('Subscriber', id);
  return json(200, { contactTags: state.store.tagging.ofContact(id).map((ct) => renderContactTag(ct, state.apiUrl)) });
}

export const tagRoutes: Route[] = [
  { method: 'GET', template: '/tags', handler: listTags },
  { method: 'POST', template: '/tags', handler: createTag },
  { method: 'GET', template: '/tags/{id}', handler: getTag },
  { method: 'POST', template: '/contactTags', handler: addContactTag },
  { method: 'DELETE', template: '/contactTags/{id}', handler: removeContactTag },
  { method: 'GET', template: '/contacts/{id}/contactTags', handler: contactTags },
];
