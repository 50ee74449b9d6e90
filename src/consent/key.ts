import { PersonHasher } from '../ledger/erasure.js';
import { personPart } from '../ledger/hashing.js';

const unkeyed = new PersonHasher();

/**
 * The one key of the consent topic: (connection, normalised email). Every reader and writer goes through this
 * function. With `ledger.hashKey` set, the email part is the ledger's keyed hash (`h:<digest>`), so the consent
 * topic keeps no raw email either.
 */
export function consentKey(connection: string, email: string, hasher: PersonHasher = unkeyed): string {
  return `${connection}\u0000${personPart(hasher, email.trim().toLowerCase())}`;
}
