import { serialize, type ContactEntry, type ContactUpdate } from '../../src/buffer/contact-entry.js';

/** Builds buffer updates for tests: refs are strings, arrival order (seq) counts up on each call. */
export function updates() {
  let seq = 0;
  return (
    email: string,
    listId: string,
    op: 'add' | 'remove',
    occurredAt: number,
    ref: string,
    extra: Partial<ContactUpdate<string>> = {},
  ): ContactUpdate<string> => ({
    email,
    fields: new Map(),
    tags: [],
    excludeAutomations: false,
    listId,
    op,
    occurredAt,
    seq: ++seq,
    ref,
    ...extra,
  });
}

/** The parsed bulk-import contact object of an entry, serialized as its cut would. */
export function contactOf<R>(entry: ContactEntry<R>): Record<string, unknown> {
  serialize(entry);
  return JSON.parse(entry.json) as Record<string, unknown>;
}
