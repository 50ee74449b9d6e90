import { emailProblem } from './email.js';
import { isRecord, scalarString } from './http.js';
import type { Store } from './store.js';

/**
 * What a person does themselves, outside the API the service uses: unsubscribe through a campaign's link
 * (source "person") or subscribe again through a form (source "form"). POST /__sim/membership:
 *   {"email","list","status":1|2,"source":"form"|"person"} → {"contact","list","status"}
 * The contact is created when missing (as a form would). Status 2 moves udate to now; status 1 moves sdate to now
 * (a form re-subscribes even after an unsubscribe: that is the person's own consent). The membership's changedBy
 * becomes the source, so a test can tell the person's change from the service's.
 */
export interface PersonChange {
  contact: string;
  list: string;
  status: 1 | 2;
}

export function applyPersonChange(
  store: Store,
  input: unknown,
  onCreated: () => void = () => {},
): PersonChange & { by: 'form' | 'person' } {
  if (!isRecord(input))
    throw new Error('Invalid membership change: the body must be {"email","list","status","source"}');
  const email = typeof input.email === 'string' ? input.email.trim() : '';
  const problem = emailProblem(email);
  if (problem !== undefined) throw new Error(`Invalid membership change: ${problem}`);
  const list = scalarString(input.list) ?? '';
  if (!store.lists.has(list))
    throw new Error(`Invalid membership change: list ${JSON.stringify(input.list)} does not exist`);
  const status = scalarString(input.status);
  if (status !== '1' && status !== '2') throw new Error('Invalid membership change: status must be 1 or 2');
  const source = input.source;
  if (source !== 'form' && source !== 'person')
    throw new Error('Invalid membership change: source must be "form" or "person"');
  const { contact, created } = store.upsertContact({ email });
  if (created) onCreated();
  const n = status === '1' ? 1 : 2;
  store.setMembership(contact.id, list, n, { by: source, touchSdate: true });
  return { contact: contact.id, list, status: n, by: source };
}
