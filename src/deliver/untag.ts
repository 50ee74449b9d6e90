import type { ContactEntry } from '../buffer/contact-entry.js';
import type { Verdict } from './classify.js';
import type { AcApi } from './client.js';

/**
 * Removing an export's tags on a leave (exports.removeTagsOnLeave). Bulk import cannot remove a tag, so a
 * confirmed leave is followed by the contact-tag endpoints, one request per step from the account's budget:
 *   GET /contacts?email=            the contact's id
 *   GET /contacts/{id}/contactTags  its tags: each a tag id and the association id that DELETE takes
 *   GET /tags?search=<name>         a tag name's id, once per name and account (kept for the run)
 *   DELETE /contactTags/{id}        per tag of the leave that the contact has
 * So a leave costs at least 2 requests, plus one per tag it removes. Tags that another export still gives the
 * contact (its list is added in the ledger, or added in the same import) are not removed.
 */
export type UntagResult = 'removed' | 'none' | 'missing' | 'failed';

export type UntagStep =
  | { kind: 'wait'; verdict: Extract<Verdict, { kind: 'throttled' | 'account' }> }
  | { kind: 'progress' }
  | { kind: 'done'; result: UntagResult; message?: string };

/** Tag name → id in one account, as found by GET /tags?search=; undefined: the account has no such tag. */
export type TagIds = Map<string, string | undefined>;

/**
 * The tags to remove from each contact of a completed import: the tags of its confirmed removes on lists whose
 * export removes tags on a leave, less the tags of its adds in the same import, less those `given` says another
 * export still gives. Pure: `given` answers from the ledger.
 */
export function untagsOf<R>(
  entries: readonly ContactEntry<R>[],
  failure: ReadonlySet<string>,
  untagLists: ReadonlySet<string>,
  given: (email: string, listId: string, ref: R) => ReadonlySet<string>,
): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (untagLists.size === 0) return out;
  for (const entry of entries) {
    if (failure.has(entry.email)) continue;
    const leave = new Set<string>();
    const kept = new Set<string>();
    for (const [listId, c] of entry.lists) {
      if (c.op === 'add') for (const t of c.tags) kept.add(t);
      else if (untagLists.has(listId) && c.tags.size) {
        for (const t of c.tags) leave.add(t);
        for (const t of given(entry.email, listId, c.winner)) kept.add(t);
      }
    }
    const tags = [...leave].filter((t) => !kept.has(t)).sort();
    if (tags.length) out.set(entry.email, tags);
  }
  return out;
}

/** One contact's tag removal: a small state machine, one request per step (ReentryJob's shape). */
export class UntagJob {
  private contactId: string | undefined;
  /** tag id → association id, once read. */
  private held: Map<string, string> | undefined;
  private readonly todo: string[];
  private removed = 0;
  notBefore = 0;
  busy = false;

  constructor(
    readonly email: string,
    tags: readonly string[],
    private readonly tagIds: TagIds,
    /** Whether the loop holds the email in flight until this job ends (newer changes wait). */
    readonly holds: boolean,
  ) {
    this.todo = [...tags];
  }

  /** One request (the budget allowed it). */
  async step(client: AcApi): Promise<UntagStep> {
    if (this.contactId === undefined) {
      const a = await client.findContact(this.email);
      if (a.verdict.kind !== 'ok') return this.refused(a.verdict);
      const found = a.body?.contacts?.find((c) => c.email.toLowerCase() === this.email);
      if (!found) return { kind: 'done', result: 'missing' };
      this.contactId = String(found.id);
      return { kind: 'progress' };
    }
    if (this.held === undefined) {
      const a = await client.contactTags(this.contactId);
      if (a.verdict.kind !== 'ok')
        return a.status === 404 ? { kind: 'done', result: 'missing' } : this.refused(a.verdict);
      this.held = new Map((a.body?.contactTags ?? []).map((ct) => [String(ct.tag), String(ct.id)]));
      return this.next();
    }
    const name = this.todo[0]!;
    if (!this.tagIds.has(name)) {
      const a = await client.findTags(name);
      if (a.verdict.kind !== 'ok') return this.refused(a.verdict);
      // search matches by "contains": only the tag with exactly this name counts.
      this.tagIds.set(name, a.body?.tags?.find((t) => t.tag.trim() === name.trim())?.id);
      return this.next();
    }
    const association = this.held.get(this.tagIds.get(name)!)!;
    const a = await client.removeContactTag(association);
    // 404: the association is gone already (someone removed the tag meanwhile): the goal is met.
    if (a.verdict.kind !== 'ok' && a.status !== 404) return this.refused(a.verdict);
    this.todo.shift();
    this.removed++;
    return this.next();
  }

  /** Skips tags that need no request (no such tag in the account, or not on the contact). */
  private next(): UntagStep {
    while (this.todo.length) {
      const name = this.todo[0]!;
      if (!this.tagIds.has(name)) return { kind: 'progress' };
      const id = this.tagIds.get(name);
      if (id !== undefined && this.held!.has(id)) return { kind: 'progress' };
      this.todo.shift();
    }
    return { kind: 'done', result: this.removed ? 'removed' : 'none' };
  }

  private refused(v: Exclude<Verdict, { kind: 'ok' }>): UntagStep {
    if (v.kind === 'throttled' || v.kind === 'account') return { kind: 'wait', verdict: v };
    return { kind: 'done', result: 'failed', message: v.kind === 'reject' ? v.message : `HTTP ${v.kind}` };
  }
}
