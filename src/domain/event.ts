import { z } from 'zod';
import { emailProblem, normaliseEmail } from './email.js';

/**
 * The segment-membership change event (schemas/membership-change.schema.json is the contract; this zod schema
 * must agree with it, and test/domain/event.test.ts runs both over the same samples).
 *
 * The schema only checks (no transforms, no preprocessing: zod's fast path); normalise() then makes the change
 * in one pass over what zod returned. Normalisation: strings are trimmed; the email is lower-cased and checked
 * against ActiveCampaign's rules once (see email.ts); empty optional names are dropped.
 */
/** Not empty once trimmed: String.prototype.trim removes exactly what \s matches. */
const NOT_BLANK = /\S/;
const requiredText = (max: number) => z.string().max(max).regex(NOT_BLANK, 'must not be empty or blank');
const optionalText = (max: number) => z.string().max(max).nullish();

const attributeValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

const NAMES = ['firstName', 'lastName', 'phone'] as const;
export type ProfileName = (typeof NAMES)[number];

export const membershipChangeSchema = z.object({
  eventId: requiredText(200),
  occurredAt: z.iso.datetime({ offset: true }),
  segmentId: requiredText(200),
  /** `erase`: an erasure request for the person (the profile's email); segmentId is required but not used. */
  op: z.enum(['add', 'remove', 'erase']),
  profile: z.object({
    id: requiredText(200),
    email: z.string().max(254),
    firstName: optionalText(255),
    lastName: optionalText(255),
    phone: optionalText(64),
    attributes: z.record(z.string(), attributeValue).nullish(),
  }),
});

export type MembershipChangeInput = z.input<typeof membershipChangeSchema>;

export interface Profile {
  id: string;
  /** Normalised (trimmed, lower-case) and acceptable to ActiveCampaign. */
  email: string;
  /** Trimmed; absent when not sent, null, or blank. */
  firstName?: string;
  lastName?: string;
  phone?: string;
  attributes?: Record<string, string | number | boolean | null>;
  /**
   * Which names the event clears: sent as an empty or blank string. A null keeps the value, like a missing name,
   * because an Avro record cannot tell a null from a name left out. Absent when none.
   */
  cleared?: ProfileName[];
}

/** A validated membership change (add or remove), with occurredAt parsed to epoch milliseconds. */
export interface SegmentChange {
  eventId: string;
  occurredAt: number;
  segmentId: string;
  op: 'add' | 'remove';
  profile: Profile;
}

/**
 * An erasure request: delete the person (by the profile's email) from every connection, and keep no older change
 * of theirs from re-creating them (README "Personal data"). Keyed by profile id like every other event.
 */
export interface ErasureRequest {
  eventId: string;
  occurredAt: number;
  segmentId: string;
  op: 'erase';
  profile: Profile;
}

/** What an event on a source topic asks for: `op` tells them apart. */
export type MembershipChange = SegmentChange | ErasureRequest;

export type ParseResult = { ok: true; change: MembershipChange } | { ok: false; reason: string };

/** Validates an already-decoded value. Never throws. */
export function parseMembershipChange(value: unknown): ParseResult {
  const parsed = membershipChangeSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.join('.') || '(root)';
    return { ok: false, reason: `${path}: ${issue?.message ?? 'invalid'}` };
  }
  const d = parsed.data;
  const occurredAt = Date.parse(d.occurredAt);
  if (Number.isNaN(occurredAt)) return { ok: false, reason: 'occurredAt: not a parseable date-time' };
  const email = normaliseEmail(d.profile.email);
  const problem = emailProblem(email);
  if (problem) return { ok: false, reason: `profile.email: ${problem}` };
  const p = d.profile;
  const profile: Profile = { id: p.id.trim(), email };
  let cleared: ProfileName[] | undefined;
  for (const name of NAMES) {
    const raw = p[name];
    if (typeof raw !== 'string') continue;
    const text = raw.trim();
    if (text) profile[name] = text;
    else (cleared ??= []).push(name);
  }
  if (p.attributes) profile.attributes = p.attributes;
  if (cleared) profile.cleared = cleared;
  const eventId = d.eventId.trim();
  const segmentId = d.segmentId.trim();
  return {
    ok: true,
    change:
      d.op === 'erase'
        ? { eventId, occurredAt, segmentId, op: d.op, profile }
        : { eventId, occurredAt, segmentId, op: d.op, profile },
  };
}
