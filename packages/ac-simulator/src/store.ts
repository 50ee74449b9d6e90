import { normaliseEmail } from './email.js';
import { TagStore } from './tag-store.js';

/**
 * The account's data: contacts (string ids, unique normalised email), lists, custom fields, tags and list
 * memberships (contactLists, status 0–3). No HTTP here; routes and the import worker call these methods.
 */
export type MembershipStatus = 0 | 1 | 2 | 3;

export interface FieldValueRecord {
  id: string;
  value: string;
  cdate: string;
  udate: string;
}

export interface ContactRecord {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  phone: string;
  cdate: string;
  udate: string;
  /** By field id. */
  fieldValues: Map<string, FieldValueRecord>;
}

/**
 * Who made a membership's last change: the service under test through bulk import or POST /contactLists, the
 * person themselves (POST /__sim/membership with source "person" or "form"), or a test's seed.
 */
export type ChangeSource = 'service-bulk' | 'service-contactLists' | 'person' | 'form' | 'seed';

export interface Membership {
  id: string;
  contactId: string;
  listId: string;
  status: MembershipStatus;
  changedBy: ChangeSource;
  sourceid: string;
  /** Subscribe date: set when the membership is created and whenever it turns to 1 (always, for a form). */
  sdate: string;
  /** Unsubscribe date: set when the membership is created and whenever status 2 is written (see setMembership). */
  udate: string;
}

/** A status 2 set by the person (or seeded as theirs): only they may reverse it. */
export const isPersonsOwn = (m: Membership | undefined): boolean =>
  m !== undefined && m.status === 2 && (m.changedBy === 'person' || m.changedBy === 'form' || m.changedBy === 'seed');

export interface ListRecord {
  id: string;
  name: string;
  cdate: string;
}
export interface FieldRecord {
  id: string;
  title: string;
  perstag: string;
  type: string;
  cdate: string;
}

export interface ContactInput {
  email: string;
  firstName?: string | undefined;
  lastName?: string | undefined;
  phone?: string | undefined;
  /** Field id → value; ids of unknown fields are ignored. */
  fieldValues?: Array<{ field: string; value: string }> | undefined;
  /** Tag names; missing tags are created (bulk import). */
  tags?: string[] | undefined;
}

/** A change to an existing contact (PUT /contacts/{id}): the email is optional. */
export type ContactPatch = Omit<ContactInput, 'email'> & { email?: string | undefined };

/** AC's date format, e.g. 2018-09-28T13:50:41-05:00 (the simulator lives in UTC). */
export function acDate(d: Date = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

export class Store {
  readonly lists = new Map<string, ListRecord>();
  readonly fields = new Map<string, FieldRecord>();
  readonly contacts = new Map<string, ContactRecord>();
  readonly tagging = new TagStore(() => this.now());
  private readonly byEmail = new Map<string, string>();
  /** contactId → listId → membership. */
  private readonly memberships = new Map<string, Map<string, Membership>>();
  private nextContactId = 1;
  private nextFieldValueId = 1;
  private nextMembershipId = 1;

  /** Wall clock for the AC dates (cdate, sdate, udate); tests pass a fake one. */
  constructor(private readonly wallClock: () => Date = () => new Date()) {}

  now(): string {
    return acDate(this.wallClock());
  }

  setLists(lists: ReadonlyArray<{ id: string; name: string }>): void {
    const cdate = this.now();
    const old = new Map(this.lists);
    this.lists.clear();
    for (const l of lists) this.lists.set(l.id, { id: l.id, name: l.name, cdate: old.get(l.id)?.cdate ?? cdate });
  }

  setFields(fields: ReadonlyArray<{ id: string; title: string; perstag: string; type?: string | undefined }>): void {
    const cdate = this.now();
    this.fields.clear();
    for (const f of fields)
      this.fields.set(f.id, { id: f.id, title: f.title, perstag: f.perstag, type: f.type ?? 'text', cdate });
  }

  /** Forget contacts, memberships and tags; lists and fields stay. */
  clearContacts(): void {
    this.contacts.clear();
    this.byEmail.clear();
    this.memberships.clear();
    this.tagging.clear();
    this.nextContactId = 1;
    this.nextFieldValueId = 1;
    this.nextMembershipId = 1;
  }

  findByEmail(email: string): ContactRecord | undefined {
    const id = this.byEmail.get(normaliseEmail(email));
    return id === undefined ? undefined : this.contacts.get(id);
  }

  /** Create, or update the contact with this (normalised) email. Empty/absent values leave the old ones. */
  upsertContact(input: ContactInput): { contact: ContactRecord; created: boolean } {
    const existing = this.findByEmail(input.email);
    if (existing) {
      this.update(existing, input);
      return { contact: existing, created: false };
    }
    return { contact: this.create(input), created: true };
  }

  create(input: ContactInput): ContactRecord {
    const now = this.now();
    const contact: ContactRecord = {
      id: String(this.nextContactId++),
      email: normaliseEmail(input.email),
      firstName: '',
      lastName: '',
      phone: '',
      cdate: now,
      udate: now,
      fieldValues: new Map(),
    };
    this.contacts.set(contact.id, contact);
    this.byEmail.set(contact.email, contact.id);
    this.update(contact, input);
    return contact;
  }

  /**
   * Change an existing contact, its email included (the caller checks that no other contact has it); memberships,
   * fields and tags stay with it.
   */
  updateContact(contact: ContactRecord, patch: ContactPatch): void {
    if (patch.email !== undefined) {
      const email = normaliseEmail(patch.email);
      this.byEmail.delete(contact.email);
      contact.email = email;
      this.byEmail.set(email, contact.id);
    }
    this.update(contact, patch);
  }

  /** Forget a contact with its memberships and contact tags; false when there is none with this id. */
  deleteContact(id: string): boolean {
    const contact = this.contacts.get(id);
    if (!contact) return false;
    this.contacts.delete(id);
    this.byEmail.delete(contact.email);
    this.memberships.delete(id);
    this.tagging.forgetContact(id);
    return true;
  }

  private update(contact: ContactRecord, input: ContactPatch): void {
    const now = this.now();
    if (input.firstName !== undefined) contact.firstName = input.firstName;
    if (input.lastName !== undefined) contact.lastName = input.lastName;
    if (input.phone !== undefined) contact.phone = input.phone;
    for (const { field, value } of input.fieldValues ?? []) {
      if (!this.fields.has(field)) continue;
      const old = contact.fieldValues.get(field);
      if (old) Object.assign(old, { value, udate: now });
      else contact.fieldValues.set(field, { id: String(this.nextFieldValueId++), value, cdate: now, udate: now });
    }
    for (const name of input.tags ?? []) this.tagging.tagContact(contact.id, this.tagging.ensure(name).tag.id);
    contact.udate = now;
  }

  membership(contactId: string, listId: string): Membership | undefined {
    return this.memberships.get(contactId)?.get(listId);
  }

  membershipsOf(contactId: string): Membership[] {
    return [...(this.memberships.get(contactId)?.values() ?? [])];
  }

  /**
   * Set a membership's status, creating the membership if needed. sdate moves when the status turns to 1 (or
   * always, with `touchSdate`); udate moves whenever status 2 is written. Returns the status it had before.
   */
  setMembership(
    contactId: string,
    listId: string,
    status: MembershipStatus,
    opts: { by: ChangeSource; sourceid?: string | undefined; touchSdate?: boolean },
  ): { membership: Membership; previous: MembershipStatus | undefined } {
    let byList = this.memberships.get(contactId);
    if (!byList) this.memberships.set(contactId, (byList = new Map()));
    const now = this.now();
    const old = byList.get(listId);
    const membership: Membership = old ?? {
      id: String(this.nextMembershipId++),
      contactId,
      listId,
      status,
      changedBy: opts.by,
      sourceid: '0',
      sdate: now,
      udate: now,
    };
    const previous = old?.status;
    membership.status = status;
    membership.changedBy = opts.by;
    membership.sourceid = opts.sourceid ?? membership.sourceid;
    if (status === 2) membership.udate = now;
    if (status === 1 && (previous !== 1 || opts.touchSdate === true)) membership.sdate = now;
    byList.set(listId, membership);
    return { membership, previous };
  }

  /** Members of a list by email, for the snapshot. */
  membersOf(listId: string): Record<string, MemberView> {
    const members: Record<string, MemberView> = {};
    for (const [contactId, byList] of this.memberships) {
      const m = byList.get(listId);
      const contact = this.contacts.get(contactId);
      if (m && contact)
        members[contact.email] = {
          status: m.status,
          contactId,
          sdate: m.sdate,
          udate: m.udate,
          changedBy: m.changedBy,
        };
    }
    return members;
  }
}

/** One (list, email) in the snapshot. */
export interface MemberView {
  status: MembershipStatus;
  contactId: string;
  sdate: string;
  udate: string;
  changedBy: ChangeSource;
}
