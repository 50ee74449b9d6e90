import { emailProblem } from '../email.js';
import { isRecord, parseJson, scalarString, type Reply } from '../http.js';
import type { ContactInput, ContactPatch } from '../store.js';
import { errors, type ApiRequest } from './route.js';

/** The `{"contact":{…}}` write body of contact/sync, POST /contacts and PUT /contacts/{id}, and its errors. */

export const invalidEmail = (): Reply =>
  // [UNCONFIRMED] status and body: the shape of a third-party mock (CONTRACT §4.1).
  errors(400, {
    title: 'Contact Email Address is not valid.',
    code: 'email_invalid',
    error: 'must_be_valid_email_address',
    pointer: '/data/attributes/email',
  });

/** POST /contacts 422 (SPEC); also PUT /contacts/{id} with another contact's email [UNCONFIRMED]. */
export const duplicateEmail = (status = 422): Reply =>
  errors(status, {
    title: 'Email address already exists in the system',
    code: 'duplicate',
    pointer: '/data/attributes/email',
  });

/** `{"contact":{email?, firstName, lastName, phone, fieldValues:[{field,value}]}}` → a ContactPatch, or the 400. */
export function contactPatch(req: ApiRequest): ContactPatch | Reply {
  const parsed = parseJson(req.body);
  if (!parsed.ok) return errors(400, { title: `Invalid request: ${parsed.error}.`, code: 'invalid' });
  const c = isRecord(parsed.value) ? parsed.value.contact : undefined;
  if (!isRecord(c))
    return errors(400, { title: 'Invalid request: the body must be {"contact":{…}}.', code: 'invalid' });
  if (c.email !== undefined && (typeof c.email !== 'string' || emailProblem(c.email.trim()) !== undefined))
    return invalidEmail();
  const fieldValues = Array.isArray(c.fieldValues) ? c.fieldValues : [];
  return {
    email: typeof c.email === 'string' ? c.email : undefined,
    firstName: scalarString(c.firstName),
    lastName: scalarString(c.lastName),
    phone: scalarString(c.phone),
    fieldValues: fieldValues.flatMap((fv) => {
      const field = isRecord(fv) ? scalarString(fv.field) : undefined;
      const value = isRecord(fv) ? scalarString(fv.value) : undefined;
      return field !== undefined && value !== undefined ? [{ field, value }] : [];
    }),
  };
}

/** As contactPatch, with the email required (contact/sync, POST /contacts). */
export function contactInput(req: ApiRequest): ContactInput | Reply {
  const patch = contactPatch(req);
  if ('status' in patch) return patch;
  const { email } = patch;
  return email === undefined ? invalidEmail() : { ...patch, email };
}
