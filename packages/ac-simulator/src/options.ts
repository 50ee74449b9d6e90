import { z } from 'zod';
import type { LatencySettings } from './latency.js';

/**
 * Every setting of the ActiveCampaign simulator, declared once: the interfaces are what callers code against,
 * the zod schemas check what arrives at run time (startSimulator, configure, POST /__sim/config, the CLI).
 * CONTRACT.md §8 is the checklist; settings that choose between [UNCONFIRMED] behaviours say so.
 */
export interface SimulatorLimits {
  /** Token bucket refill, per account (CONTRACT §2): 5. */
  requestsPerSecond: number;
  /** Token bucket capacity: 5. */
  burst: number;
  /** Bulk import requests holding several contacts, per sliding minute: 100. */
  bulkMultiPerMinute: number;
  /** Bulk import requests holding one contact, per sliding minute: 20. */
  bulkSinglePerMinute: number;
  /** Contacts per bulk import request: 250. */
  maxContactsPerImport: number;
  /** Bulk import bodies of this many bytes or more are refused: 400000. */
  maxBodyBytes: number;
  /** Retry-After announced with a 429, in (unscaled) seconds: 1. */
  retryAfterSeconds: number;
  /** false: no rate limits at all (no 429, no per-minute bulk limits), for pipeline benchmarks. */
  enabled: boolean;
  /** Timer-jitter tolerance used only when counting violations: 20. */
  toleranceMs: number;
}

export interface ImportDelays {
  /** /import/info answers status:false this long after the POST. */
  statusFalse: number;
  waiting: number;
  claimed: number;
  active: number;
}

/** Imports that never finish [for issue-14 drills]: they stop at `status` and stay there for ever. */
export interface StuckImports {
  /** Share of accepted imports that get stuck, drawn with `seed`: 0..1. */
  share: number;
  /** The next n accepted imports get stuck (counts down; GET /__sim/config shows what is left). */
  next: number;
  /**
   * Where they stop: 'active' (default), 'claimed', 'waiting', or false (/import/info answers status:false for ever).
   */
  status: false | 'waiting' | 'claimed' | 'active';
}

export interface SimulatorOptions {
  host: string;
  port: number;
  apiToken: string;
  /** k > 1 runs every limit and delay k times faster: 5 rps → 5k rps, 100/min → 100 per 60/k s, delays /k. */
  timeScale: number;
  limits: SimulatorLimits;
  importDelaysMs: ImportDelays;
  /** Extra time each import spends `active`, drawn per import (heavy-tailed: lognormal or Pareto), unscaled ms. */
  importLatency: LatencySettings;
  /** An import never finishes before one accepted earlier (stuck ones excepted) [UNCONFIRMED]: true. */
  importsFinishInOrder: boolean;
  stuckImports: StuckImports;
  /** Seed of the random draws for importLatency and stuckImports.share (re-seeded by configure and reset). */
  seed: number;
  /** Index base of failureReasons[].contact in the bulk import validation 400 [UNCONFIRMED]: 0. */
  failureIndexBase: 0 | 1;
  /** Shape of the bulk validation 400's failureReasons [UNCONFIRMED beyond 'index']: 'index' = {contact: n,
   * failureReason}; 'string-index' = {contact: "n", …}; 'undocumented' = {failureReason} with no index. */
  validation400Shape: 'index' | 'string-index' | 'undocumented';
  /** Bulk subscribe of a contact whose membership is 2 (or 3) [UNCONFIRMED]: 'failure' = the contact lands in
   * failure and nothing of it is applied; 'skip' = the contact is upserted and the subscribe silently skipped. */
  unsubscribedConflict: 'failure' | 'skip';
  /** A bulk unsubscribe of a membership already in status 2 moves its udate (and counts as the service's change)
   * [UNCONFIRMED]: false = nothing changes. */
  repeatUnsubscribeMovesUdate: boolean;
  /** An empty string in a bulk import first_name, last_name, phone or fields[].value clears the stored value
   * [UNCONFIRMED]: false = it leaves the stored value (as a missing one does). */
  emptyBulkValueClears: boolean;
  /** Scope of the two bulk import budgets [UNCONFIRMED]: 'separate' = 20/min single-contact and 100/min
   * multi-contact counted apart; 'combined' = single-contact imports count toward the 100 as well. */
  importLimitScope: 'separate' | 'combined';
  /**
   * Algorithm of the per-minute bulk import budgets [UNCONFIRMED]: 'sliding' window, 'fixed' windows, 'token-bucket'.
   */
  importLimiter: 'sliding' | 'fixed' | 'token-bucket';
  /** /import/info `success` lists updated contacts as well as created ones [UNCONFIRMED]: true. */
  importSuccessIncludesUpdated: boolean;
  /** contact/sync status when it updates an existing contact [UNCONFIRMED]: 201 (as when it creates) or 200. */
  syncUpdateStatus: 200 | 201;
  /**
   * GET /contacts honours `orders[id]` and `id_greater` beside `listid` [UNCONFIRMED together]; false: ignores both
   * (ids ascending from `offset`).
   */
  contactsIdPaging: boolean;
  /** Which /api/3 answers carry RateLimit-Limit/-Remaining [UNCONFIRMED]: 'every' one, '429-only', or 'none'. */
  rateLimitHeaders: 'every' | '429-only' | 'none';
  /** Bad token answer: 403 {"message":"Forbidden"} or 403 with no body and no Content-Type [UNCONFIRMED]. */
  forbiddenBody: 'json' | 'none';
  /** 429 answer: {"message":"Too Many Requests"} or no body [UNCONFIRMED]. Addition to the agreed API. */
  tooManyRequestsBody: 'json' | 'none';
  lists: Array<{ id: string; name: string }>;
  fields: Array<{ id: string; title: string; perstag: string; type?: string }>;
  /** Every /api/3 request gets 503, no body (an outage). */
  unavailable: boolean;
  /** Share of /api/3 requests answered 503 at random, 0..1. */
  errorRate503: number;
  /** Imports accepted while this is set end in that terminal state, applying nothing. */
  failImports: 'none' | 'failed' | 'interrupted';
  /** DELETE /contacts/{id} answers 403 and deletes nothing, as for a user without the Contact Delete permission or
   * an account past its monthly delete limit (AC documents both, not the answer: 403 is [assumed]). */
  refuseDeletes: boolean;
  /**
   * How PUT /contacts/{id} answers an email another contact already has (not documented [UNCONFIRMED]): '422' the
   * duplicate errors[] body POST /contacts documents (the default); '400' the same body with a 400; '409' a
   * Conflict with a plain message; 'ignored' 200 with the contact unchanged (its old email kept).
   */
  takenEmailAnswer: '422' | '400' | '409' | 'ignored';
  /** Extra latency added before each /api/3 answer is written, scaled by timeScale. */
  latencyMs: number;
  /**
   * Where the account's `unsubscribe` webhook goes (the URL registered with ActiveCampaign, its token included):
   * a person's own unsubscribe (POST /__sim/membership, status 2, source "person") is posted there form-encoded,
   * as AC does (webhook-sender.ts). null: no webhook.
   */
  unsubscribeWebhookUrl: string | null;
}

/** What startSimulator and configure accept: any subset, and any subset of the nested groups. */
export type SimulatorOptionsInput = Partial<
  Omit<SimulatorOptions, 'limits' | 'importDelaysMs' | 'importLatency' | 'stuckImports'>
> & {
  limits?: Partial<SimulatorLimits>;
  importDelaysMs?: Partial<ImportDelays>;
  importLatency?: Partial<LatencySettings>;
  stuckImports?: Partial<StuckImports>;
};
export type SimulatorPatch = Omit<SimulatorOptionsInput, 'host' | 'port'>;

export const DEFAULT_OPTIONS: SimulatorOptions = {
  host: '127.0.0.1',
  port: 0,
  apiToken: 'sim-token',
  timeScale: 1,
  limits: {
    requestsPerSecond: 5,
    burst: 5,
    bulkMultiPerMinute: 100,
    bulkSinglePerMinute: 20,
    maxContactsPerImport: 250,
    maxBodyBytes: 400_000,
    retryAfterSeconds: 1,
    enabled: true,
    toleranceMs: 20,
  },
  importDelaysMs: { statusFalse: 1000, waiting: 300, claimed: 300, active: 500 },
  importLatency: { distribution: 'none', medianMs: 2_000, sigma: 1, scaleMs: 1_000, alpha: 1.5, maxMs: 600_000 },
  importsFinishInOrder: true,
  stuckImports: { share: 0, next: 0, status: 'active' },
  seed: 1,
  failureIndexBase: 0,
  validation400Shape: 'index',
  unsubscribedConflict: 'failure',
  repeatUnsubscribeMovesUdate: false,
  emptyBulkValueClears: false,
  importLimitScope: 'separate',
  importLimiter: 'sliding',
  importSuccessIncludesUpdated: true,
  syncUpdateStatus: 201,
  contactsIdPaging: true,
  rateLimitHeaders: 'every',
  forbiddenBody: 'json',
  tooManyRequestsBody: 'json',
  lists: [1, 2, 3, 4, 5].map((n) => ({ id: String(n), name: `Simulated list ${n}` })),
  fields: [
    { id: '1', title: 'Customer Tier', perstag: 'CUSTOMER_TIER', type: 'text' },
    { id: '2', title: 'Country', perstag: 'COUNTRY', type: 'text' },
  ],
  unavailable: false,
  errorRate503: 0,
  failImports: 'none',
  refuseDeletes: false,
  takenEmailAnswer: '422',
  latencyMs: 0,
  unsubscribeWebhookUrl: null,
};

const numericId = z.string().regex(/^[1-9][0-9]*$/, 'must be a positive integer in a string, e.g. "3"');

const limitsSchema = z
  .object({
    requestsPerSecond: z.number().positive(),
    burst: z.number().int().positive(),
    bulkMultiPerMinute: z.number().int().positive(),
    bulkSinglePerMinute: z.number().int().positive(),
    maxContactsPerImport: z.number().int().positive(),
    maxBodyBytes: z.number().int().positive(),
    retryAfterSeconds: z.number().positive(),
    enabled: z.boolean(),
    toleranceMs: z.number().nonnegative(),
  })
  .strict();

const delaysSchema = z
  .object({
    statusFalse: z.number().nonnegative(),
    waiting: z.number().nonnegative(),
    claimed: z.number().nonnegative(),
    active: z.number().nonnegative(),
  })
  .strict();

const latencySchema = z
  .object({
    distribution: z.enum(['none', 'lognormal', 'pareto']),
    medianMs: z.number().positive(),
    sigma: z.number().nonnegative(),
    scaleMs: z.number().positive(),
    alpha: z.number().positive(),
    maxMs: z.number().positive(),
  })
  .strict();

const stuckSchema = z
  .object({
    share: z.number().min(0).max(1),
    next: z.number().int().nonnegative(),
    status: z.union([z.literal(false), z.enum(['waiting', 'claimed', 'active'])]),
  })
  .strict();

const patchSchema = z
  .object({
    apiToken: z.string().min(1),
    timeScale: z.number().positive(),
    limits: limitsSchema.partial(),
    importDelaysMs: delaysSchema.partial(),
    importLatency: latencySchema.partial(),
    importsFinishInOrder: z.boolean(),
    stuckImports: stuckSchema.partial(),
    seed: z.number().int(),
    failureIndexBase: z.union([z.literal(0), z.literal(1)]),
    validation400Shape: z.enum(['index', 'string-index', 'undocumented']),
    unsubscribedConflict: z.enum(['failure', 'skip']),
    repeatUnsubscribeMovesUdate: z.boolean(),
    emptyBulkValueClears: z.boolean(),
    importLimitScope: z.enum(['separate', 'combined']),
    importLimiter: z.enum(['sliding', 'fixed', 'token-bucket']),
    importSuccessIncludesUpdated: z.boolean(),
    syncUpdateStatus: z.union([z.literal(200), z.literal(201)]),
    contactsIdPaging: z.boolean(),
    rateLimitHeaders: z.enum(['every', '429-only', 'none']),
    forbiddenBody: z.enum(['json', 'none']),
    tooManyRequestsBody: z.enum(['json', 'none']),
    lists: z.array(z.object({ id: numericId, name: z.string().min(1) }).strict()),
    fields: z.array(
      z
        .object({ id: numericId, title: z.string().min(1), perstag: z.string().min(1), type: z.string().optional() })
        .strict(),
    ),
    unavailable: z.boolean(),
    errorRate503: z.number().min(0).max(1),
    failImports: z.enum(['none', 'failed', 'interrupted']),
    refuseDeletes: z.boolean(),
    takenEmailAnswer: z.enum(['422', '400', '409', 'ignored']),
    latencyMs: z.number().nonnegative(),
    unsubscribeWebhookUrl: z
      .string()
      .regex(/^https?:\/\/\S+$/, 'must be an http(s) URL')
      .nullable(),
  })
  .partial()
  .strict();

const inputSchema = patchSchema
  .extend({
    host: z.string().min(1).optional(),
    port: z.number().int().min(0).max(65535).optional(),
  })
  .strict();

function explain(error: z.ZodError): Error {
  const issues = error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`);
  return new Error(`Invalid simulator options: ${issues.join('; ')}`);
}

function merge(base: SimulatorOptions, patch: SimulatorOptionsInput): SimulatorOptions {
  const { limits, importDelaysMs, importLatency, stuckImports, ...rest } = patch;
  const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
  return {
    ...base,
    ...defined,
    limits: { ...base.limits, ...stripUndefined(limits) },
    importDelaysMs: { ...base.importDelaysMs, ...stripUndefined(importDelaysMs) },
    importLatency: { ...base.importLatency, ...stripUndefined(importLatency) },
    stuckImports: { ...base.stuckImports, ...stripUndefined(stuckImports) },
  };
}

function stripUndefined<T extends object>(o: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Defaults overlaid with `input`; throws an Error naming every bad key. */
export function resolveOptions(input: unknown = {}): SimulatorOptions {
  const parsed = inputSchema.safeParse(input);
  if (!parsed.success) throw explain(parsed.error);
  return merge(DEFAULT_OPTIONS, parsed.data as SimulatorOptionsInput);
}

/** `current` changed by `patch` (host and port cannot change at run time); throws an Error naming every bad key. */
export function applyPatch(current: SimulatorOptions, patch: unknown): SimulatorOptions {
  const parsed = patchSchema.safeParse(patch);
  if (!parsed.success) throw explain(parsed.error);
  return merge(current, parsed.data as SimulatorPatch);
}
