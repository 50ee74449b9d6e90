import type { Stage } from './errors.js';

/**
 * Every code a dead letter can carry (header `dlq.error.code`), with the stage that writes it. One list:
 * schemas/dead-letter-headers.json holds the same codes as its enum, and test/domain/dead-letter-codes.test.ts
 * checks that the two agree and that no other code is written anywhere in src/.
 */
export const DEAD_LETTER_CODES = {
  NOT_JSON: 'decode',
  TOMBSTONE: 'decode',
  EMPTY_VALUE: 'decode',
  NOT_UTF8: 'decode',
  TOO_LARGE: 'decode',
  AVRO_INVALID: 'decode',
  UNKNOWN_SCHEMA: 'decode',
  SCHEMA_UNUSABLE: 'decode',
  UNSUPPORTED_SCHEMA_TYPE: 'decode',
  INVALID_EVENT: 'validate',
  UNMAPPED_SEGMENT: 'map',
  /** ActiveCampaign's validation refused the contact (or a 400 naming no index refused it alone). */
  INVALID_CONTACT: 'deliver',
  CONTACT_TOO_LARGE: 'deliver',
  NO_BATCH_ID: 'deliver',
  /** Any other refusal of a request (4xx), and a 404. */
  REJECTED: 'deliver',
  NOT_FOUND: 'deliver',
  RESUBSCRIBE_FAILED: 'deliver',
  /**
   * ActiveCampaign refused an erasure's lookup or DELETE /contacts/{id} (e.g. no delete permission,
   * the monthly delete limit).
   */
  ERASE_REFUSED: 'deliver',
  /** A profile's new email belongs to another contact: PUT /contacts/{id} refused it (both contact ids, no emails). */
  EMAIL_TAKEN: 'deliver',
  IMPORT_FAILED: 'confirm',
  IMPORT_CONTACT_FAILED: 'confirm',
  CONSENT_OPTED_OUT: 'confirm',
  CONSENT_REENTRY_OFF: 'confirm',
  CONSENT_UNCERTAIN: 'confirm',
  CONTACT_BOUNCED: 'confirm',
} as const satisfies Record<string, Stage>;

export type DeadLetterCode = keyof typeof DEAD_LETTER_CODES;

export const deadLetterCodes = Object.keys(DEAD_LETTER_CODES) as DeadLetterCode[];
