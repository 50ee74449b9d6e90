/**
 * Email rules of ActiveCampaign's bulk import (CONTRACT.md §6): a non-empty local part, none of the
 * characters " ( ) , : ; < > @ [ \ ] and no apostrophe in it, exactly one "@", and a domain whose last label
 * is at least two letters, with no special characters.
 *
 * Normalisation (our rule, AC documents none): trim, then lower-case the whole address. Keys of our own state
 * (buffers, ledger) always use the normalised form; ActiveCampaign receives the normalised form too, so the
 * simulator and the real account match contacts the same way we do.
 */
const FORBIDDEN_LOCAL = /["(),:;<>@[\\\]'\s]/;
const DOMAIN_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/i;
const TLD = /^[a-z]{2,}$/i;

export function normaliseEmail(raw: string): string {
  return raw.trim().toLowerCase();
}

/** Why an address is refused, or undefined when ActiveCampaign would accept it. */
export function emailProblem(email: string): string | undefined {
  if (email.length === 0) return 'email is empty';
  if (email.length > 254) return 'email is longer than 254 characters';
  const at = email.lastIndexOf('@');
  if (at < 0) return 'email has no "@"';
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  if (local.length === 0) return 'email has an empty local part';
  if (FORBIDDEN_LOCAL.test(local)) return 'email local part has a special character';
  const labels = domain.split('.');
  if (labels.length < 2) return 'email domain has no "." followed by a top-level domain';
  if (!labels.every((l) => DOMAIN_LABEL.test(l))) return 'email domain has a special character or an empty label';
  if (!TLD.test(labels[labels.length - 1] ?? '')) return 'email top-level domain is not at least two letters';
  return undefined;
}

export function isAcceptableEmail(email: string): boolean {
  return emailProblem(email) === undefined;
}
