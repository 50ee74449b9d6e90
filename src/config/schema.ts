import { z } from 'zod';

/**
 * Every setting of the service, declared once: name, description, default and bounds. loadConfig() parses a
 * file against this schema and stops start-up with a one-line message that names the key.
 */

const brokerAddress = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):\d{1,5}$/, 'must be host:port, e.g. "kafka-1:9092"');

/** Where a secret comes from. A file is re-read when it changes (key rotation without restart). */
export const secretRef = z.union([
  z.strictObject({ env: z.string().min(1).describe('name of an environment variable holding the secret') }),
  z.strictObject({ file: z.string().min(1).describe('path of a file holding the secret (trailing newline trimmed)') }),
  z.strictObject({ value: z.string().min(1).describe('the secret inline: for local development only') }),
]);
export type SecretRef = z.infer<typeof secretRef>;

const kafka = z.strictObject({
  brokers: z.array(brokerAddress).min(1).describe('bootstrap brokers'),
  clientId: z.string().min(1).default('ac-list-sync'),
  groupId: z.string().min(1).default('ac-list-sync').describe('consumer group of the live sync'),
  topics: z.array(z.string().min(1)).min(1).describe('source topics of membership-change events'),
  fromBeginning: z.boolean().default(true).describe('where a new group starts: true = earliest'),
  sessionTimeoutMs: z.number().int().min(6_000).max(300_000).default(30_000),
  heartbeatIntervalMs: z.number().int().min(500).max(60_000).default(3_000),
  commitIntervalMs: z
    .number()
    .int()
    .min(100)
    .max(60_000)
    .default(1_000)
    .describe('how often settled offsets are committed'),
  compression: z
    .enum(['none', 'gzip', 'snappy', 'lz4', 'zstd'])
    .default('zstd')
    .describe(
      'codec of the records the service writes (dead-letter topics, ledger); ' +
        'every codec is read whatever this says. zstd measured best (README, Compression)',
    ),
  ssl: z
    .union([
      z.boolean(),
      z.strictObject({
        caFile: z
          .string()
          .min(1)
          .optional()
          .describe('PEM file of the CA that signed the brokers (default: the system CAs)'),
        certFile: z.string().min(1).optional().describe('client certificate (PEM) for mutual TLS'),
        keyFile: z.string().min(1).optional().describe('client key (PEM) for mutual TLS'),
        rejectUnauthorized: z.boolean().default(true),
      }),
    ])
    .default(false)
    .describe('connect with TLS: true, or the files of a private CA / mutual TLS'),
  sasl: z
    .strictObject({
      mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
      username: z.string().min(1),
      password: secretRef,
    })
    .optional(),
});

const connection = z.strictObject({
  apiUrl: z
    .string()
    .min(1)
    .describe('the API URL of Settings → Developer, with or without https:// and /api/3; http:// only for a simulator'),
  apiKey: secretRef.describe('the Api-Token'),
  privacyAcknowledged: z.literal(true, {
    error:
      'must be true: contacts (emails, names, phone numbers) leave the upstream compliance boundary for ' +
      'this ActiveCampaign account; set privacyAcknowledged: true to confirm that this transfer is allowed',
  }),
  requestsPerSecond: z
    .number()
    .gt(0)
    .max(5)
    .default(4.5)
    .describe('request budget of the account (AC allows 5/s); aim ~90%'),
  importsPerMinute: z
    .number()
    .int()
    .min(1)
    .max(100)
    .default(98)
    .describe(
      'bulk imports in any 60 s window (AC allows 100); 98 leaves room for ' +
        'a limiter that counts in whole seconds (README "One import budget")',
    ),
  singleImportsPerMinute: z
    .number()
    .int()
    .min(0)
    .max(20)
    .default(19)
    .describe('single-contact bulk imports in any 60 s window (AC allows 20)'),
  importLimitScope: z
    .enum(['combined', 'separate'])
    .default('combined')
    .describe(
      'combined: single-contact imports count toward importsPerMinute too (the ' +
        'cautious reading of CONTRACT.md §2); separate: the two budgets are apart',
    ),
  requestTimeoutMs: z.number().int().min(1_000).max(300_000).default(30_000),
  budgetShare: z
    .union([z.literal('partitions'), z.number().gt(0).max(1)])
    .default('partitions')
    .describe(
      "this instance's share of the account budget: its fraction of the source partitions, or a fixed fraction",
    ),
  replayShare: z
    .number()
    .min(0)
    .max(0.9)
    .default(0)
    .describe('share of the account budget reserved for replays; live instances split the rest'),
});

const exportDef = z.strictObject({
  name: z.string().min(1).describe('unique name of this export; used in metrics and dead-letter headers'),
  segmentId: z.string().min(1),
  connection: z.string().min(1).describe('a key of connections'),
  listId: z.string().regex(/^\d+$/, 'must be a numeric ActiveCampaign list id, e.g. "3"'),
  enabled: z.boolean().default(true).describe('false keeps the export but sends nothing for it'),
  tags: z.array(z.string().min(1)).default([]),
  excludeAutomations: z
    .boolean()
    .default(false)
    .describe('stop ActiveCampaign automations from running for these imports'),
  onLeave: z
    .enum(['unsubscribe', 'nothing'])
    .default('unsubscribe')
    .describe(
      'what leaving the segment does: unsubscribe from the list, ' +
        'or nothing (subscribe-only; removes are skipped and counted)',
    ),
  removeTagsOnLeave: z
    .boolean()
    .default(false)
    .describe(
      "on a confirmed leave, remove this export's tags from the contact (contact-tag endpoints: " +
        'at least 2 requests per leave from the same budget); a tag another export still gives the contact stays',
    ),
  reentry: z
    .boolean()
    .default(true)
    .describe(
      're-subscribe a contact who re-enters the segment after this service unsubscribed ' +
        'them (needs the ledger); false: dead-letter such an add (CONSENT_REENTRY_OFF)',
    ),
  fields: z
    .record(z.string(), z.union([z.number().int().positive(), z.string().min(1)]))
    .default({})
    .describe('profile attribute name → custom field id (number) or perstag (string)'),
});

export const configSchema = z.strictObject({
  kafka,
  connections: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only'), connection),
  exports: z.array(exportDef).min(1),
  unmappedSegments: z
    .enum(['skip', 'dead-letter'])
    .default('skip')
    .describe('what happens to an event whose segment has no export'),
  buffer: z
    .strictObject({
      maxContacts: z.number().int().min(1).max(250).default(250).describe('contacts per bulk import (AC allows 250)'),
      maxBytes: z
        .number()
        .int()
        .min(10_000)
        .max(399_999)
        .default(399_999)
        .describe('serialized bytes per import body (AC: under 400,000)'),
      lingerMs: z
        .number()
        .int()
        .min(0)
        .max(600_000)
        .default(1_000)
        .describe('oldest change waits at most this long before a flush'),
      maxPendingEvents: z
        .number()
        .int()
        .min(1_000)
        .max(10_000_000)
        .default(50_000)
        .describe('pause fetching above this many unsettled events'),
      maxBufferedBytes: z
        .number()
        .int()
        .min(1_048_576)
        .max(8_589_934_592)
        .default(67_108_864)
        .describe(
          'pause fetching above this many bytes waiting in the buffers (all accounts): ' +
            'serialized contacts and the record copies unsettled events keep',
        ),
    })
    .prefault({}),
  ingest: z
    .strictObject({
      maxEventBytes: z
        .number()
        .int()
        .min(1_024)
        .max(10_485_760)
        .default(65_536)
        .describe('larger record values are dead-lettered (TOO_LARGE)'),
    })
    .prefault({}),
  schemaRegistry: z
    .strictObject({
      url: z
        .string()
        .regex(
          /^https?:\/\/[^\s/]+(\/\S*)?$/,
          'must be an http(s) URL, e.g. "http://schema-registry:8081" (Apicurio: ".../apis/ccompat/v7")',
        )
        .describe('Confluent-compatible schema registry for records in the Confluent wire format (Avro)'),
      username: z.string().min(1).optional().describe('HTTP basic auth user (Confluent Cloud: the API key)'),
      password: secretRef.optional().describe('HTTP basic auth password (Confluent Cloud: the API secret)'),
      timeoutMs: z
        .number()
        .int()
        .min(100)
        .max(5_000)
        .default(3_000)
        .describe(
          'each registry request gives up after this; it runs inside a fetched batch, ' +
            'so it stays under the 6 s minimum session timeout',
        ),
    })
    .refine((r) => (r.username === undefined) === (r.password === undefined), {
      message: 'username and password go together',
      path: ['password'],
    })
    .optional()
    .describe(
      'unset: every record is JSON; set: records starting with magic ' +
        'byte 0 are decoded with the schema the registry holds for their id',
    ),
  ledger: z
    .strictObject({
      enabled: z
        .boolean()
        .default(true)
        .describe(
          'keep the membership ledger: newest change wins across ' +
            'restarts and replays, re-entry after our own unsubscribe',
        ),
      topic: z
        .string()
        .min(1)
        .default('{topic}.ledger')
        .describe('compacted ledger topic, one per source topic; {topic} is replaced by the source topic'),
      hashKey: secretRef
        .optional()
        .describe(
          'key of the keyed hash (HMAC-SHA-256) of emails in erasure markers; ' +
            'read once at start-up (a changed key would orphan the markers); unset: a built-in key, ' +
            'so a marker holds no email but a guessed email can be tested against it',
        ),
      restoreTimeoutMs: z
        .number()
        .int()
        .min(5_000)
        .max(3_600_000)
        .default(300_000)
        .describe(
          'stall detector of a ledger restore: when it reads nothing for this long, ' +
            'it is abandoned and resumed from the offsets it had reached, keeping what it read ' +
            '(the partitions wait meanwhile); a restore that keeps progressing may take longer',
        ),
    })
    .prefault({}),
  consent: z
    .strictObject({
      enabled: z
        .boolean()
        .default(false)
        .describe(
          "opt-out feedback: serve ActiveCampaign's unsubscribe " +
            'webhook and read the consent topic (README, Opt-out feedback)',
        ),
      topic: z
        .string()
        .min(1)
        .default('ac-list-sync.consent')
        .describe(
          "compacted topic of the people's own opt-outs, keyed by (connection, email); every instance reads it in full",
        ),
      refreshMs: z
        .number()
        .int()
        .min(500)
        .max(600_000)
        .default(5_000)
        .describe('how often the consent topic is read again for the opt-outs other instances received'),
      host: z
        .string()
        .min(1)
        .default('0.0.0.0')
        .describe('address of the webhook server (its own port: it faces ActiveCampaign, /metrics does not)'),
      port: z.number().int().min(0).max(65_535).default(9465).describe('port of the webhook server; 0 = any free port'),
      token: secretRef
        .optional()
        .describe(
          'the secret token in the webhook URL registered with ActiveCampaign: ' +
            'POST /webhooks/activecampaign/<connection>/<token>',
        ),
      maxBodyBytes: z
        .number()
        .int()
        .min(1_024)
        .max(1_048_576)
        .default(16_384)
        .describe('a webhook body over this is refused (413)'),
      ratePerSecond: z
        .number()
        .min(1)
        .max(10_000)
        .default(50)
        .describe('webhook requests per second, with a burst of twice this; more are answered 429'),
    })
    .refine((c) => !c.enabled || c.token !== undefined, {
      message: 'the webhook needs a secret token (consent.token: {"file": …} or {"env": …})',
      path: ['token'],
    })
    .prefault({}),
  deadLetter: z
    .strictObject({
      topic: z
        .string()
        .min(1)
        .default('{topic}.dlq')
        .describe('dead-letter topic; {topic} is replaced by the source topic'),
      retentionMs: z
        .number()
        .int()
        .min(60_000)
        .default(604_800_000)
        .describe('retention set when the service creates the topic (it holds personal data)'),
    })
    .prefault({}),
  delivery: z
    .strictObject({
      maxUnconfirmedImports: z
        .number()
        .int()
        .min(1)
        .max(200)
        .default(20)
        .describe('accepted imports awaiting confirmation, at most (each costs polls)'),
      maxConcurrentRequests: z.number().int().min(1).max(32).default(5),
      maxImportResubmits: z
        .number()
        .int()
        .min(0)
        .max(20)
        .default(3)
        .describe('failed/interrupted imports are rebuilt and resubmitted this many times'),
      pollIntervalMs: z
        .number()
        .int()
        .min(100)
        .max(60_000)
        .default(1_000)
        .describe('first wait before polling /import/info; doubles up to 8×'),
      confirmTimeoutMs: z
        .number()
        .int()
        .min(10_000)
        .max(86_400_000)
        .default(600_000)
        .describe(
          'an import not confirmed this long after it was accepted is rebuilt from the newest buffered ' +
            'state and resubmitted (at most maxImportResubmits times, then dead-lettered IMPORT_FAILED)',
        ),
      maxBackoffMs: z
        .number()
        .int()
        .min(1_000)
        .max(600_000)
        .default(60_000)
        .describe('longest pause while an account is failing'),
      settleOnAccept: z
        .boolean()
        .default(false)
        .describe('commit offsets when an import is accepted instead of confirmed (see README)'),
      timeScale: z
        .number()
        .min(1)
        .max(1_000)
        .default(1)
        .describe('the benchmark and the demo only: delivery runs on a clock this many times faster'),
      emailChanges: z
        .boolean()
        .default(true)
        .describe(
          'a profile whose email changes keeps its contact: PUT /contacts/{id} ' +
            'with the new email before its changes are sent (README, Email changes)',
        ),
      maxProfiles: z
        .number()
        .int()
        .min(1)
        .max(100_000_000)
        .default(100_000)
        .describe(
          'profiles (id → contact id and email) held in memory per connection for email changes; ' +
            'the least recently seen is forgotten first (the ledger keeps them all: README, Email changes)',
        ),
      profileLookupsPerSecond: z
        .number()
        .min(0)
        .max(5)
        .default(1)
        .describe(
          'with the ledger: GET /contacts?email= per second, at most, ' +
            'to learn the contact id of each new profile once (recorded in the ledger, ' +
            'so an email change after a restart finds the contact); 0 turns it off (README, Email changes)',
        ),
      memberReadAfter: z
        .number()
        .int()
        .min(0)
        .max(1_000_000)
        .default(100)
        .describe(
          'unknown removes queued for one list that start one read of its members instead ' +
            'of a lookup each (README, Lookup cost: a read answers only removes older than it, ' +
            'and erasures, email changes and rebalances invalidate it); 0 = lookups only',
        ),
      memberReadMaxMembers: z
        .number()
        .int()
        .min(100)
        .max(50_000_000)
        .default(2_000_000)
        .describe(
          'a list with more members is never read: lookups instead (memory: ' +
            'at most 32 bytes a member while a read is held)',
        ),
      repeatUnsubscribeMovesUdate: z
        .enum(['no', 'yes', 'unknown'])
        .default('no')
        .describe(
          "whether ActiveCampaign moves a membership's unsubscribe date when an unsubscribe " +
            "repeats one (unconfirmed): 'yes' or 'unknown' dead-letters a re-entry whose unsubscribe " +
            "falls inside the service's window as CONSENT_UNCERTAIN instead of re-subscribing it",
        ),
    })
    .prefault({}),
  shutdown: z
    .strictObject({
      deadlineMs: z
        .number()
        .int()
        .min(1_000)
        .max(600_000)
        .default(30_000)
        .describe('flush, confirm and commit within this time on SIGTERM'),
    })
    .prefault({}),
  http: z
    .strictObject({
      host: z.string().min(1).default('0.0.0.0').describe('address of the /metrics, /healthz and /readyz server'),
      port: z.number().int().min(0).max(65_535).default(9464).describe('port of that server; 0 = any free port'),
      probeIntervalMs: z
        .number()
        .int()
        .min(500)
        .max(600_000)
        .default(30_000)
        .describe(
          'how often readiness re-checks Kafka and each account token ' +
            '(one request from the account budget) and refreshes lag',
        ),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      showEmails: z.boolean().default(false).describe('log raw emails (debugging only; masked by default)'),
      format: z
        .enum(['auto', 'json', 'pretty'])
        .default('auto')
        .describe('json lines, readable lines, or auto: readable when stderr is a terminal'),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type ConnectionConfig = z.infer<typeof connection>;
export type ExportConfig = z.infer<typeof exportDef>;
