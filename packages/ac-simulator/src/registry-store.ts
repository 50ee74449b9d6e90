/**
 * The state of the simulated schema registry, without HTTP: schemas by global id, subjects with their versions,
 * and compatibility settings. Ids are global as in Confluent's registry: the same schema text registered under
 * two subjects gets one id. "The same" means equal after JSON normalisation (whitespace and key order of the
 * text as written are kept; only insignificant whitespace is ignored) for Avro and JSON schemas, and equal text
 * for Protobuf. No compatibility checking is done: the level is stored and reported, never enforced.
 */
export type SchemaType = 'AVRO' | 'JSON' | 'PROTOBUF';

export interface StoredSchema {
  id: number;
  schema: string;
  schemaType: SchemaType;
}

export interface SubjectVersion extends StoredSchema {
  subject: string;
  version: number;
}

export type Registered = { ok: true; id: number } | { ok: false; reason: string };

export class SchemaStore {
  private readonly byId = new Map<number, StoredSchema>();
  private readonly byKey = new Map<string, StoredSchema>();
  private readonly subjects = new Map<string, StoredSchema[]>();
  private readonly compatibility = new Map<string, string>();
  private nextId = 1;
  globalCompatibility = 'BACKWARD';

  /** Adds `schema` to `subject` (a no-op when it is already one of its versions) and returns its global id. */
  register(subject: string, schema: string, schemaType: SchemaType = 'AVRO'): Registered {
    const key = canonicalKey(schema, schemaType);
    if (key === undefined) return { ok: false, reason: `the ${schemaType} schema is not valid JSON` };
    let stored = this.byKey.get(key);
    if (!stored) {
      stored = { id: this.nextId++, schema, schemaType };
      this.byKey.set(key, stored);
      this.byId.set(stored.id, stored);
    }
    const versions = this.subjects.get(subject) ?? [];
    if (!versions.includes(stored)) versions.push(stored);
    this.subjects.set(subject, versions);
    return { ok: true, id: stored.id };
  }

  schema(id: number): StoredSchema | undefined {
    return this.byId.get(id);
  }

  subjectNames(): string[] {
    return [...this.subjects.keys()].sort();
  }

  versions(subject: string): number[] | undefined {
    return this.subjects.get(subject)?.map((_, i) => i + 1);
  }

  /** `version` is a number or "latest"; undefined when the subject or the version does not exist. */
  version(subject: string, version: number | 'latest'): SubjectVersion | undefined {
    const versions = this.subjects.get(subject);
    if (!versions) return undefined;
    const n = version === 'latest' ? versions.length : version;
    const stored = versions[n - 1];
    return stored && { subject, version: n, ...stored };
  }

  /** The subject's version holding this schema, if it has one. */
  lookup(subject: string, schema: string, schemaType: SchemaType = 'AVRO'): SubjectVersion | undefined {
    const stored = this.byKey.get(canonicalKey(schema, schemaType) ?? '');
    const versions = this.subjects.get(subject);
    const index = stored && versions ? versions.indexOf(stored) : -1;
    return stored && index >= 0 ? { subject, version: index + 1, ...stored } : undefined;
  }

  hasSubject(subject: string): boolean {
    return this.subjects.has(subject);
  }

  subjectCompatibility(subject: string): string | undefined {
    return this.compatibility.get(subject);
  }

  setSubjectCompatibility(subject: string, level: string): void {
    this.compatibility.set(subject, level);
  }
}

export const COMPATIBILITY_LEVELS = [
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
  'NONE',
];

function canonicalKey(schema: string, schemaType: SchemaType): string | undefined {
  if (schemaType === 'PROTOBUF') return `${schemaType}:${schema}`;
  try {
    return `${schemaType}:${JSON.stringify(JSON.parse(schema))}`;
  } catch {
    return undefined;
  }
}
