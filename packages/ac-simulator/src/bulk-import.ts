import { emailProblem, normaliseEmail } from './email.js';
import { isRecord, json, parseJson, scalarString, type Reply, type RequestBody } from './http.js';

/**
 * POST /import/bulk_import request checks (CONTRACT.md §4.8, §2), pure. The route runs them in this order:
 *   1. parseBulkBody: size (≥ maxBodyBytes → 400), JSON, a `contacts` array. Nothing is counted yet.
 *   2. the per-minute budget (single or multi), charged to every request that got this far [UNCONFIRMED: AC does
 *      not say whether refused imports count; "Up to 100 imports may be *requested* per minute" suggests they do].
 *   3. validateContacts: at most maxContactsPerImport, then each contact (all or nothing).
 */
export interface ImportContact {
  /** Normalised. */
  email: string;
  firstName?: string | undefined;
  lastName?: string | undefined;
  phone?: string | undefined;
  tags: string[];
  fields: Array<{ field: string; value: string }>;
  subscribe: string[];
  unsubscribe: string[];
}

export const VALIDATION_MESSAGE =
  'JSON payload did not pass validation. Please fix failure ' +
  'Reasons and retry. The import was not queued for processing.';
/** Verbatim from the docs, including the curly quotes and the space after the opening one. */
export const EMAIL_FAILURE_REASON = 'Field‘ email’ incorrect format';

function generalError(message: string, reason: string): Reply {
  return json(400, { success: 0, message, failureReasons: [reason] });
}

/** The documented "Rate limit exceeded." body; the single-contact wording is ours [UNCONFIRMED]. */
export function bulkRateLimitReply(limit: number): Reply {
  return generalError(
    'Rate limit exceeded.',
    `Up to ${limit} imports may be requested per minute.Please batch ` +
      'contacts into larger requests, or retry this request in a minute.',
  );
}

export function parseBulkBody(
  body: RequestBody,
  maxBodyBytes: number,
): { ok: true; entries: unknown[] } | { ok: false; reply: Reply } {
  if (body.bytes >= maxBodyBytes) {
    // [UNCONFIRMED] AC does not document this answer.
    const reply = generalError(
      'Payload too large.',
      `The request body must be under ${maxBodyBytes} bytes; it was ${body.bytes} bytes.`,
    );
    return { ok: false, reply };
  }
  const parsed = parseJson(body);
  if (!parsed.ok) return { ok: false, reply: generalError('Invalid JSON payload.', parsed.error) };
  const contacts = isRecord(parsed.value) ? parsed.value.contacts : undefined;
  if (!Array.isArray(contacts) || contacts.length === 0) {
    return { ok: false, reply: generalError(VALIDATION_MESSAGE, 'Field‘ contacts’ must be a non-empty array') };
  }
  return { ok: true, entries: contacts };
}

type Checked = { ok: true; contact: ImportContact } | { ok: false; reason: string };

function optionalString(v: unknown): string | undefined | null {
  if (v === undefined || v === null) return undefined;
  return scalarString(v) ?? null; // null = present but not a scalar
}

function listIds(v: unknown): string[] | null {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) return null;
  const ids = v.map((item) => (isRecord(item) ? scalarString(item.listid) : undefined));
  return ids.every((id): id is string => id !== undefined && /^[0-9]+$/.test(id)) ? ids : null;
}

function checkContact(entry: unknown): Checked {
  if (!isRecord(entry) || typeof entry.email !== 'string' || emailProblem(entry.email) !== undefined) {
    return { ok: false, reason: EMAIL_FAILURE_REASON };
  }
  const names = {
    first_name: optionalString(entry.first_name),
    last_name: optionalString(entry.last_name),
    phone: optionalString(entry.phone),
  };
  for (const [key, value] of Object.entries(names))
    if (value === null) return { ok: false, reason: `Field‘ ${key}’ incorrect format` };
  const tags = entry.tags ?? [];
  if (!Array.isArray(tags) || !tags.every((t): t is string => typeof t === 'string'))
    return { ok: false, reason: 'Field‘ tags’ incorrect format' };
  const rawFields = entry.fields ?? [];
  // fields[].id must be an integer (CONTRACT §4.7: perstags and strings are not accepted).
  if (
    !Array.isArray(rawFields) ||
    !rawFields.every((f) => isRecord(f) && Number.isInteger(f.id) && scalarString(f.value) !== undefined)
  ) {
    return { ok: false, reason: 'Field‘ fields’ incorrect format' };
  }
  const subscribe = listIds(entry.subscribe);
  const unsubscribe = listIds(entry.unsubscribe);
  if (subscribe === null) return { ok: false, reason: 'Field‘ subscribe’ incorrect format' };
  if (unsubscribe === null) return { ok: false, reason: 'Field‘ unsubscribe’ incorrect format' };
  return {
    ok: true,
    contact: {
      email: normaliseEmail(entry.email),
      firstName: names.first_name ?? undefined,
      lastName: names.last_name ?? undefined,
      phone: names.phone ?? undefined,
      tags: tags.filter((t) => t.trim() !== ''),
      fields: (rawFields as Array<Record<string, unknown>>).map((f) => ({
        field: String(f.id),
        value: scalarString(f.value) ?? '',
      })),
      subscribe,
      unsubscribe,
    },
  };
}

/**
 * The shape of the per-contact validation 400 (validation400Shape): 'index' = failureReasons[].contact is the
 * contact's index as a number (the docs); 'string-index' = the same index as a string; 'undocumented' = the
 * reasons carry no index at all. The last two are [UNCONFIRMED] shapes a client must survive (issue 15).
 */
export type Validation400Shape = 'index' | 'string-index' | 'undocumented';

function failureReason(index: number, reason: string, shape: Validation400Shape): Record<string, unknown> {
  if (shape === 'undocumented') return { failureReason: reason };
  return { contact: shape === 'string-index' ? String(index) : index, failureReason: reason };
}

/** All or nothing: one bad contact refuses the whole request, naming every bad contact by index. */
export function validateContacts(
  entries: unknown[],
  maxContacts: number,
  indexBase: 0 | 1,
  shape: Validation400Shape = 'index',
): { ok: true; contacts: ImportContact[] } | { ok: false; reply: Reply } {
  if (entries.length > maxContacts) {
    const reply = generalError(
      VALIDATION_MESSAGE,
      `A maximum of ${maxContacts} contacts may be imported per request; this request holds ${entries.length}.`,
    );
    return { ok: false, reply };
  }
  const contacts: ImportContact[] = [];
  const failureReasons: Array<Record<string, unknown>> = [];
  entries.forEach((entry, i) => {
    const checked = checkContact(entry);
    if (checked.ok) contacts.push(checked.contact);
    else failureReasons.push(failureReason(i + indexBase, checked.reason, shape));
  });
  if (failureReasons.length > 0)
    return { ok: false, reply: json(400, { success: 0, message: VALIDATION_MESSAGE, failureReasons }) };
  return { ok: true, contacts };
}
