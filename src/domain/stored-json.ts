/**
 * A stored record's value (a Kafka record the service wrote: ledger records, erasure markers, consent records)
 * read as a JSON object; undefined for an empty value, bad JSON or anything but an object. Each reader then checks
 * the fields it needs: a foreign or damaged record counts for nothing, it never throws.
 */
export function storedObject(raw: Buffer | string | null): Record<string, unknown> | undefined {
  if (raw === null || raw.length === 0) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    return undefined;
  }
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}
