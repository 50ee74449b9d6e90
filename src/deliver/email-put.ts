import type { Answer } from './client.js';

/**
 * What an answer of `PUT /contacts/{id}` with a new email means, pure. How ActiveCampaign answers an email that
 * another contact already has is not documented (README "Email changes"), so every plausible shape is read:
 *
 *   2xx, the answer's contact has the new email (or shows no email)  → changed
 *   2xx, the answer's contact still has another email                → unchanged: the PUT was ignored, most likely
 *                                                                      because the email is taken (a lookup says)
 *   404                                                              → missing: no such contact
 *   409; 400 or 422 naming a duplicate (errors[].code "duplicate", or
 *   a title or message saying the email already exists); 422 alone   → taken (a lookup gives the other id)
 *   any other refusal (a 400 for a bad email, a 403…)                → failed
 *
 * 429, 5xx and no answer are the caller's (the same step again after a wait).
 */
export type PutReading = 'changed' | 'unchanged' | 'missing' | 'taken' | 'failed';

export function readPut(a: Pick<Answer<unknown>, 'status' | 'body'>, email: string): PutReading {
  const { status, body } = a;
  if (status >= 200 && status < 300) {
    const shown = (body as { contact?: { email?: unknown } } | undefined)?.contact?.email;
    return typeof shown === 'string' && shown.trim().toLowerCase() !== email ? 'unchanged' : 'changed';
  }
  if (status === 404) return 'missing';
  if (status === 409) return 'taken';
  if ((status === 400 || status === 422) && namesDuplicate(body)) return 'taken';
  // 422 is what ActiveCampaign answers POST /contacts for a duplicate email (CONTRACT.md §4.2):
  // read so whatever its body.
  if (status === 422) return 'taken';
  return 'failed';
}

const DUPLICATE = /already exists|already in use|duplicate/i;

/** Whether an error body says the email belongs to another contact: `{errors:[{code,title}]}` or `{message}`. */
function namesDuplicate(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const b = body as { errors?: unknown; message?: unknown };
  if (typeof b.message === 'string' && DUPLICATE.test(b.message)) return true;
  if (!Array.isArray(b.errors)) return false;
  return b.errors.some((e) => {
    if (typeof e !== 'object' || e === null) return false;
    const { code, title, detail } = e as { code?: unknown; title?: unknown; detail?: unknown };
    return code === 'duplicate' || [title, detail].some((t) => typeof t === 'string' && DUPLICATE.test(t));
  });
}

/** The id of the contact with exactly this (normalised) email in a `GET /contacts?email=` answer. */
export function contactIdOf(body: unknown, email: string): string | undefined {
  const contacts = (body as { contacts?: unknown } | undefined)?.contacts;
  const found = Array.isArray(contacts)
    ? (contacts as ({ id: string | number; email?: unknown } | null)[]).find(
        (x) => typeof x?.email === 'string' && x.email.toLowerCase() === email,
      )
    : undefined;
  return found ? String(found.id) : undefined;
}
