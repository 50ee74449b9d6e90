import type {
  AcApi,
  Answer,
  BulkImportAccepted,
  ContactsFound,
  ContactTags,
  ImportInfo,
  Memberships,
  TagsFound,
} from './client.js';

/**
 * `run --dry-run`: reads go to the account (lists, fields: start-up checks still run), writes do not. Each bulk
 * import is reported per list instead of sent, then "accepted" and "completed" so the pipeline settles as usual.
 */
export class DryRunApi implements AcApi {
  private n = 0;

  constructor(
    private readonly real: AcApi,
    private readonly report: (line: string) => void,
  ) {}

  async bulkImport(body: string): Promise<Answer<BulkImportAccepted>> {
    const { contacts } = JSON.parse(body) as {
      contacts: { subscribe?: { listid: number }[]; unsubscribe?: { listid: number }[] }[];
    };
    const perList = new Map<number, { subscribe: number; unsubscribe: number }>();
    for (const c of contacts) {
      for (const [key, ids] of [
        ['subscribe', c.subscribe],
        ['unsubscribe', c.unsubscribe],
      ] as const) {
        for (const { listid } of ids ?? []) {
          const row = perList.get(listid) ?? { subscribe: 0, unsubscribe: 0 };
          row[key]++;
          perList.set(listid, row);
        }
      }
    }
    const lists = [...perList].map(([id, r]) => `list ${id}: +${r.subscribe} -${r.unsubscribe}`).join(', ');
    this.report(`dry run: would import ${contacts.length} contacts (${Buffer.byteLength(body)} bytes): ${lists}`);
    return {
      status: 200,
      verdict: { kind: 'ok' },
      body: { batchId: `dry-run-${++this.n}`, queued_contacts: contacts.length },
      latencyMs: 0,
    };
  }

  async importInfo(): Promise<Answer<ImportInfo>> {
    return {
      status: 200,
      verdict: { kind: 'ok' },
      body: { status: 'completed', success: [], failure: [] },
      latencyMs: 0,
    };
  }

  findContact(email: string): Promise<Answer<ContactsFound>> {
    return this.real.findContact(email);
  }

  memberships(contactId: string): Promise<Answer<Memberships>> {
    return this.real.memberships(contactId);
  }

  async setListStatus(contactId: string, listId: string, status: 1 | 2): Promise<Answer<unknown>> {
    this.report(
      `dry run: would ${status === 1 ? 're-subscribe' : 'unsubscribe'} ` +
        `contact ${contactId} on list ${listId} (contactLists)`,
    );
    return { status: 200, verdict: { kind: 'ok' }, body: {}, latencyMs: 0 };
  }

  async deleteContact(contactId: string): Promise<Answer<unknown>> {
    this.report(`dry run: would delete contact ${contactId} (an erasure request)`);
    return { status: 200, verdict: { kind: 'ok' }, body: {}, latencyMs: 0 };
  }

  async updateContactEmail(contactId: string): Promise<Answer<unknown>> {
    this.report(`dry run: would change the email of contact ${contactId} (PUT /contacts/{id})`);
    return { status: 200, verdict: { kind: 'ok' }, body: {}, latencyMs: 0 };
  }

  contactTags(contactId: string): Promise<Answer<ContactTags>> {
    return this.real.contactTags(contactId);
  }

  findTags(name: string): Promise<Answer<TagsFound>> {
    return this.real.findTags(name);
  }

  async removeContactTag(contactTagId: string): Promise<Answer<unknown>> {
    this.report(`dry run: would remove contact tag ${contactTagId} (a tag of an export the contact left)`);
    return { status: 200, verdict: { kind: 'ok' }, body: {}, latencyMs: 0 };
  }

  getList(id: string) {
    return this.real.getList(id);
  }

  fields(offset: number, limit?: number) {
    return this.real.fields(offset, limit);
  }

  close(): Promise<void> {
    return this.real.close();
  }
}
