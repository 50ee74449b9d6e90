import { storedObject } from '../domain/stored-json.js';

/**
 * A consent record: the person's own opt-outs of one (connection, email), as the value of the compacted consent
 * topic (`schemas/consent-record.schema.json`): `{"v":1,"lists":{"<listId>":<epoch ms>}}`, the time of the newest
 * opt-out of each list that ActiveCampaign's unsubscribe webhook reported. No email in the value: it is only in
 * the key (consentKey), which later becomes a hash.
 */
export interface ConsentRecord {
  v: 1;
  lists: Record<string, number>;
}

/** The record as stored, or undefined when it cannot be read (a foreign or damaged record counts for nothing). */
export function decodeConsent(value: Buffer | string | null): ConsentRecord | undefined {
  const parsed = storedObject(value);
  if (!parsed) return undefined;
  const { v, lists } = parsed;
  if (v !== 1 || typeof lists !== 'object' || lists === null || Array.isArray(lists)) return undefined;
  const out: Record<string, number> = {};
  for (const [listId, at] of Object.entries(lists)) if (typeof at === 'number' && Number.isFinite(at)) out[listId] = at;
  return { v: 1, lists: out };
}

export function encodeConsent(r: ConsentRecord): string {
  return JSON.stringify(r);
}

/** `r` with an opt-out of `listId` at `at` added; an older opt-out never replaces a newer one. */
export function withOptOut(r: ConsentRecord | undefined, listId: string, at: number): ConsentRecord {
  const lists = { ...(r?.lists ?? {}) };
  lists[listId] = Math.max(lists[listId] ?? at, at);
  return { v: 1, lists };
}

/** Two records of one key merged: every list at its newest opt-out (a record read never loses one held). */
export function mergeConsent(a: ConsentRecord | undefined, b: ConsentRecord): ConsentRecord {
  let out = a ?? { v: 1, lists: {} };
  for (const [listId, at] of Object.entries(b.lists)) out = withOptOut(out, listId, at);
  return out;
}
