/**
 * Tags and contact tags (AC's /tags and /contactTags resources): tag names are unique (matched exactly, after
 * trimming [UNCONFIRMED: AC's own matching is not documented]); a contact has a tag at most once.
 */
export interface TagRecord {
  id: string;
  tag: string;
  tagType: string;
  description: string;
  cdate: string;
}

export interface ContactTagRecord {
  id: string;
  contactId: string;
  tagId: string;
  cdate: string;
}

export class TagStore {
  readonly tags = new Map<string, TagRecord>();
  readonly contactTags = new Map<string, ContactTagRecord>();
  private readonly byName = new Map<string, string>();
  /** contactId → tagId → contactTag id. */
  private readonly byContact = new Map<string, Map<string, string>>();
  private nextTagId = 1;
  private nextContactTagId = 1;

  constructor(private readonly now: () => string) {}

  findByName(name: string): TagRecord | undefined {
    const id = this.byName.get(name.trim());
    return id === undefined ? undefined : this.tags.get(id);
  }

  /** The tag with this name, created when missing (as bulk import does). */
  ensure(name: string, description = '', tagType = 'contact'): { tag: TagRecord; created: boolean } {
    const existing = this.findByName(name);
    if (existing) return { tag: existing, created: false };
    const tag: TagRecord = { id: String(this.nextTagId++), tag: name.trim(), tagType, description, cdate: this.now() };
    this.tags.set(tag.id, tag);
    this.byName.set(tag.tag, tag.id);
    return { tag, created: true };
  }

  /** Put a tag on a contact; a tag it already has answers the existing contactTag [UNCONFIRMED]. */
  tagContact(contactId: string, tagId: string): { contactTag: ContactTagRecord; created: boolean } {
    let byTag = this.byContact.get(contactId);
    if (!byTag) this.byContact.set(contactId, (byTag = new Map()));
    const existingId = byTag.get(tagId);
    const existing = existingId === undefined ? undefined : this.contactTags.get(existingId);
    if (existing) return { contactTag: existing, created: false };
    const contactTag: ContactTagRecord = { id: String(this.nextContactTagId++), contactId, tagId, cdate: this.now() };
    this.contactTags.set(contactTag.id, contactTag);
    byTag.set(tagId, contactTag.id);
    return { contactTag, created: true };
  }

  /** false when there is no contactTag with this id. */
  untag(contactTagId: string): boolean {
    const ct = this.contactTags.get(contactTagId);
    if (!ct) return false;
    this.contactTags.delete(contactTagId);
    this.byContact.get(ct.contactId)?.delete(ct.tagId);
    return true;
  }

  ofContact(contactId: string): ContactTagRecord[] {
    const ids = [...(this.byContact.get(contactId)?.values() ?? [])];
    return ids.flatMap((id) => this.contactTags.get(id) ?? []).sort((a, b) => Number(a.id) - Number(b.id));
  }

  /** The names of a contact's tags, sorted. */
  namesOf(contactId: string): string[] {
    return this.ofContact(contactId)
      .map((ct) => this.tags.get(ct.tagId)?.tag ?? '')
      .sort();
  }

  /** A deleted contact loses its contact tags; the tags stay. */
  forgetContact(contactId: string): void {
    for (const ct of this.ofContact(contactId)) this.contactTags.delete(ct.id);
    this.byContact.delete(contactId);
  }

  clear(): void {
    this.tags.clear();
    this.contactTags.clear();
    this.byName.clear();
    this.byContact.clear();
    this.nextTagId = 1;
    this.nextContactTagId = 1;
  }
}
