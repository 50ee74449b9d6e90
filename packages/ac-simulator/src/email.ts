/**
 * The simulator's email rule, read from CONTRACT.md §6 ("Why bulk imports fail") and written here, not shared
 * with the service: the simulator is what the service's own rule is tested against, so the two must not agree by
 * construction. The service's test/domain/email-agreement.test.ts feeds one table of addresses to both.
 *
 * Refused, as the docs say [DOC D-bulk, D-info]:
 *   - an address without "@", or with an empty local part;
 *   - one of the special characters " ( ) , : ; < > @ [ \ ] (so a second "@" too), or the apostrophe of the
 *     docs' own example invalid'character@example.com;
 *   - a domain that does not end in "." and at least two letters (the docs' invalid.email@invalidDomain), or that
 *     has a special character: here, anything but ASCII letters, digits, "-" and ".".
 * Our readings where the contract says nothing: whitespace counts as a special character (an address is one
 * token); empty domain labels, labels that begin or end with "-", and long addresses are accepted, since no rule
 * in the contract refuses them.
 *
 * Matching [UNCONFIRMED, §4.1 simulator rule]: contacts match case-insensitively, ignoring surrounding whitespace.
 */
const SPECIAL = /["(),:;<>@[\\\]'\s]/;
const DOMAIN = /^[A-Za-z0-9.-]+$/;
const TOP_LEVEL = /\.[A-Za-z]{2,}$/;

/** The key a contact is stored and looked up by. */
export function normaliseEmail(raw: string): string {
  return raw.trim().toLowerCase();
}

/** Why the simulator refuses an address, or undefined when it accepts it. */
export function emailProblem(email: string): string | undefined {
  const at = email.indexOf('@');
  if (at < 0) return 'the address has no "@"';
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  if (local === '') return 'the part before "@" is empty';
  if (domain.includes('@')) return 'the address has more than one "@"';
  if (SPECIAL.test(local)) return 'the part before "@" has a special character';
  if (!DOMAIN.test(domain)) return 'the domain has a special character';
  if (!TOP_LEVEL.test(domain)) return 'the domain does not end in "." and at least two letters';
  return undefined;
}
