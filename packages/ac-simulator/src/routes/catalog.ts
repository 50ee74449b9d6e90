import { json, paging, type Reply } from '../http.js';
import { renderField, renderList } from '../render.js';
import type { SimState } from '../state.js';
import { notFound, type ApiRequest, type Route } from './route.js';

/** Lists and custom fields (CONTRACT.md §4.6, §4.7): read-only, seeded from the options. */

const byId = (a: { id: string }, b: { id: string }): number => Number(a.id) - Number(b.id);

/** filters[name] (exact) or filters[name][eq|neq|contains|starts_with|ends_with], case-insensitive. */
function nameFilter(q: URLSearchParams): (name: string) => boolean {
  for (const [key, raw] of q) {
    const m = /^filters\[name\](?:\[(\w+)\])?$/.exec(key);
    if (!m) continue;
    const value = raw.toLowerCase();
    const op = m[1] ?? 'eq';
    return (name) => {
      const n = name.toLowerCase();
      if (op === 'neq') return n !== value;
      if (op === 'contains') return n.includes(value);
      if (op === 'starts_with') return n.startsWith(value);
      if (op === 'ends_with') return n.endsWith(value);
      return n === value;
    };
  }
  return () => true;
}

function lists(state: SimState, req: ApiRequest): Reply {
  const q = req.url.searchParams;
  const { limit, offset } = paging(q, 20);
  const keep = nameFilter(q);
  const found = [...state.store.lists.values()].filter((l) => keep(l.name)).sort(byId);
  return json(200, {
    lists: found.slice(offset, offset + limit).map((l) => renderList(l, state.apiUrl)),
    meta: { total: String(found.length) },
  });
}

function list(state: SimState, req: ApiRequest): Reply {
  const id = req.params.id ?? '';
  const l = state.store.lists.get(id);
  return l ? json(200, { list: renderList(l, state.apiUrl) }) : notFound('_List', id);
}

/** GET /fields: limit (default 100) / offset, filters[perstag] (exact, case-insensitive). */
function fields(state: SimState, req: ApiRequest): Reply {
  const q = req.url.searchParams;
  const { limit, offset } = paging(q, 100);
  const perstag = q.get('filters[perstag]')?.toUpperCase();
  const all = [...state.store.fields.values()].sort(byId);
  const found = all.filter((f) => perstag === undefined || f.perstag.toUpperCase() === perstag);
  return json(200, {
    fieldOptions: [],
    fieldRels: [],
    fields: found.slice(offset, offset + limit).map((f) => renderField(f, state.apiUrl, all.indexOf(f) + 1)),
    meta: { total: String(found.length) },
  });
}

export const catalogRoutes: Route[] = [
  { method: 'GET', template: '/lists', handler: lists },
  { method: 'GET', template: '/lists/{id}', handler: list },
  { method: 'GET', template: '/fields', handler: fields },
];
