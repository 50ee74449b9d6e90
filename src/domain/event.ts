import { z } from 'zod';
import { emailProblem, normaliseEmail } from './email.js';

/**
 * The segment-membership change event (schemas/membership-change.schema.json is the contract; this zod schema
 * must agree with it, and test/domain/event.test.ts runs both over the same samples).
 *
 * Normalisation: strings are trimmed; the email is lower-cased (see email.ts); empty optional names are dropped.
 */
const optionalText = (max: number) =>
  z
    .string()
    .max(max)
    .transform((s) => s.trim())
    .nullish()
    .transform((s) => (s ? s : undefined));

const attributeValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

const NAMES = ['firstName', 'lastName', 'phone'] as const;
export type ProfileName = (typeof NAMES)[number];

/**
 * Which names the event clears: sent as an empty or blank string. A null keeps the value, like a missing name,
 * because an Avro record cannot tell a null from a name left out.
 */
function withCleared(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null) return raw;
  const r = raw as Record<string, unknown>;
  const cleared = NAMES.filter((k) => typeof r[k] === 'string' && (r[k] as string).trim() === '');
  const { cleared: _ignored, ...rest } = r;
  return cleared.length ? { ...rest, cleared } : rest;
}

export const membershipChangeSchema = z.object({
  eventId: z.string().max(200).trim().min(1),
  occurredAt: z.iso.datetime({ offset: true }),
  segmentId: z.string().max(200).trim().min(1),
  /** `erase`: an erasure request for the person (the profile's email); segmentId is required but not used. */
  op: z.enum(['add', 'remove', 'erase']),
  profile: z.preprocess(withCleared, z.object({
    id: z.string().max(200).trim().min(1),
    email: z
      .string()
      .max(254)
      .transform(normaliseEmail)
      .superRefine((email, ctx) => {
        const problem = emailProblem(email);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
    firstName: optionalText(255),
    lastName: optionalText(255),
    phone: optionalText(64),
    attributes: z.record(z.string(), attributeValue).nullish().transform((a) => a ?? undefined),
    /** Names the event clears (derived: an empty or blank string was sent); absent when none. */
    cleared: z.array(z.enum(NAMES)).optional(),
  })),
});

export type MembershipChangeInput = z.input<typeof membershipChangeSchema>;
export type Profile = z.output<typeof membershipChangeSchema>['profile'];

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
  const occurredAt = Date.parse(parsed.data.occurredAt);
  if (Number.isNaN(occurredAt)) return { ok: false, reason: 'occurredAt: not a parseable date-time' };
  const { op, ...rest } = parsed.data;
  return { ok: true, change: op === 'erase' ? { ...rest, op, occurredAt } : { ...rest, op, occurredAt } };
}
