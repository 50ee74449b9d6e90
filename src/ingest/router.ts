import type { ContactUpdate } from '../buffer/contact-entry.js';
import type { ExportConfig } from '../config/schema.js';
import type { SegmentChange } from '../domain/event.js';

/** One shared empty map for the (common) update that sets no custom field: no Map per event. */
const NO_FIELDS: ReadonlyMap<number, string | null> = new Map();

/** segmentId → the enabled exports that map it. Disabled exports are kept in config and skipped here. */
export class Router {
  private readonly bySegment = new Map<string, ExportConfig[]>();
  readonly disabledSegments = new Set<string>();

  constructor(
    exports: readonly ExportConfig[],
    private readonly fieldIds: (exp: ExportConfig, key: string) => number | undefined = defaultFieldId,
  ) {
    for (const exp of exports) {
      if (!exp.enabled) {
        this.disabledSegments.add(exp.segmentId);
        continue;
      }
      const list = this.bySegment.get(exp.segmentId) ?? [];
      list.push(exp);
      this.bySegment.set(exp.segmentId, list);
    }
  }

  private mapsFields(exp: ExportConfig): boolean {
    for (const _ in exp.fields) return true;
    return false;
  }

  route(segmentId: string): readonly ExportConfig[] {
    return this.bySegment.get(segmentId) ?? [];
  }

  /** The buffer update one export makes of one change. */
  update<R>(exp: ExportConfig, change: SegmentChange, seq: number, ref: R): ContactUpdate<R> {
    // A missing attribute says nothing (the field keeps its value); an explicit null or empty one clears it (null).
    const attrs = change.profile.attributes;
    let fields: ReadonlyMap<number, string | null> = NO_FIELDS;
    if (attrs && this.mapsFields(exp)) {
      const set = new Map<number, string | null>();
      fields = set;
      for (const [attr, target] of Object.entries(exp.fields)) {
        if (!(attr in attrs)) continue;
        const value = attrs[attr];
        const id = typeof target === 'number' ? target : this.fieldIds(exp, target);
        if (id !== undefined) set.set(id, value === null || value === '' ? null : String(value));
      }
    }
    const p = change.profile;
    const name = (key: 'firstName' | 'lastName' | 'phone') => (p.cleared?.includes(key) ? null : p[key]);
    return {
      email: p.email,
      firstName: name('firstName'),
      lastName: name('lastName'),
      phone: name('phone'),
      fields,
      tags: exp.tags,
      excludeAutomations: exp.excludeAutomations,
      listId: exp.listId,
      op: change.op,
      occurredAt: change.occurredAt,
      seq,
      ref,
    };
  }
}

function defaultFieldId(): number | undefined {
  return undefined;
}
