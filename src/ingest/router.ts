import type { ContactUpdate } from '../buffer/contact-entry.js';
import type { ExportConfig } from '../config/schema.js';
import type { SegmentChange } from '../domain/event.js';

/** segmentId → the enabled exports that map it. Disabled exports are kept in config and skipped here. */
export class Router {
  private readonly bySegment = new Map<string, ExportConfig[]>();
  readonly disabledSegments = new Set<string>();

  constructor(exports: readonly ExportConfig[], private readonly fieldIds: (exp: ExportConfig, key: string) => number | undefined = defaultFieldId) {
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

  route(segmentId: string): readonly ExportConfig[] {
    return this.bySegment.get(segmentId) ?? [];
  }

  /** The buffer update one export makes of one change. */
  update<R>(exp: ExportConfig, change: SegmentChange, seq: number, ref: R): ContactUpdate<R> {
    // A missing attribute says nothing (the field keeps its value); an explicit null or empty one clears it (null).
    const fields = new Map<number, string | null>();
    const attrs = change.profile.attributes;
    if (attrs) {
      for (const [attr, target] of Object.entries(exp.fields)) {
        if (!(attr in attrs)) continue;
        const value = attrs[attr];
        const id = typeof target === 'number' ? target : this.fieldIds(exp, target);
        if (id !== undefined) fields.set(id, value === null || value === '' ? null : String(value));
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
