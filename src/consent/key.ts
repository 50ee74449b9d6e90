/**
 * The one key of the consent topic: (connection, normalised email). Every reader and writer goes through this
 * function, so the format can change in one place (the hashed keys of the ledger, issue 18, will apply here too).
 */
export function consentKey(connection: string, email: string): string {
  return `${connection}\u0000${email.trim().toLowerCase()}`;
}
