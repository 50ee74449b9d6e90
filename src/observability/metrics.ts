import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every metric of the service, in one place. Names: ac_list_sync_<noun>_<unit>[_total]. Labels come from bounded
 * sets only (topic, partition, connection, list, export, stage, code, trigger, status): never emails or ids.
 * Hot paths update these per batch, not per event.
 */
export const PREFIX = 'ac_list_sync_';

/** The acked writers (src/kafka/acked-writer.ts): the `writer` label. */
export const WRITERS = ['dead_letter', 'ledger', 'consent'] as const;

export function createMetrics(registry = new Registry()) {
  /** Run at each scrape, before the gauges below are read (values too costly to keep current per batch). */
  const beforeScrape: (() => void)[] = [];
  const m = {
    registry,
    beforeScrape,
    eventsConsumed: new Counter({
      name: `${PREFIX}events_consumed_total`,
      help:
        'Events consumed, by result. Each event settles once per export as delivered, invalid, ' +
        'unmapped or dead_lettered (an erasure once per connection, as erased); suppressed: ' +
        "older than its person's erasure, skipped; duplicate (an offset fetched again) " +
        'and stale (older than the change already buffered; it settles with that one) are counted as they arrive',
      labelNames: ['topic', 'result'] as const,
      registers: [registry],
    }),
    bufferedContacts: new Gauge({
      name: `${PREFIX}buffered_contacts`,
      help: 'Contacts waiting in buffers',
      labelNames: ['connection'] as const,
      registers: [registry],
    }),
    bufferedBytes: new Gauge({
      name: `${PREFIX}buffered_bytes`,
      help: 'Serialized bytes waiting in buffers',
      labelNames: ['connection'] as const,
      registers: [registry],
    }),
    bufferedListContacts: new Gauge({
      name: `${PREFIX}buffered_list_contacts`,
      help:
        'Contacts waiting in buffers per list (a contact changing ' +
        'two lists counts in both); computed at scrape time',
      labelNames: ['connection', 'list'] as const,
      registers: [registry],
      collect: () => {
        for (const update of beforeScrape) update();
      },
    }),
    bufferedListBytes: new Gauge({
      name: `${PREFIX}buffered_list_bytes`,
      help: 'Serialized bytes of the contacts waiting per list; computed at scrape time',
      labelNames: ['connection', 'list'] as const,
      registers: [registry],
    }),
    pendingEvents: new Gauge({
      name: `${PREFIX}pending_events`,
      help: 'Events consumed but not yet settled',
      registers: [registry],
    }),
    flushes: new Counter({
      name: `${PREFIX}flushes_total`,
      help: 'Bulk imports cut, by trigger',
      labelNames: ['connection', 'trigger'] as const,
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: `${PREFIX}batch_contacts`,
      help: 'Contacts per bulk import request',
      labelNames: ['connection'] as const,
      buckets: [1, 10, 50, 100, 150, 200, 240, 245, 250],
      registers: [registry],
    }),
    batchBytes: new Histogram({
      name: `${PREFIX}batch_bytes`,
      help: 'Body bytes per bulk import request',
      labelNames: ['connection'] as const,
      buckets: [1e3, 1e4, 5e4, 1e5, 2e5, 3e5, 4e5],
      registers: [registry],
    }),
    apiRequests: new Counter({
      name: `${PREFIX}api_requests_total`,
      help: 'ActiveCampaign requests by endpoint and HTTP status (0 = no answer)',
      labelNames: ['connection', 'endpoint', 'status'] as const,
      registers: [registry],
    }),
    apiLatency: new Histogram({
      name: `${PREFIX}api_request_duration_seconds`,
      help: 'ActiveCampaign request latency',
      labelNames: ['connection', 'endpoint'] as const,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    throttled: new Counter({
      name: `${PREFIX}api_throttled_total`,
      help: 'Throttling answers: 429 and the bulk-import "Rate limit exceeded."',
      labelNames: ['connection', 'code'] as const,
      registers: [registry],
    }),
    retryAfterSeconds: new Counter({
      name: `${PREFIX}api_retry_after_seconds_total`,
      help: 'Seconds of Retry-After honoured',
      labelNames: ['connection'] as const,
      registers: [registry],
    }),
    budgetWaitSeconds: new Counter({
      name: `${PREFIX}rate_budget_wait_seconds_total`,
      help: 'Time requests waited on the account budget',
      labelNames: ['connection'] as const,
      registers: [registry],
    }),
    budgetUtilisation: new Gauge({
      name: `${PREFIX}rate_budget_utilisation_ratio`,
      help: "This instance's pace as a fraction of the configured account rates (share × throttle)",
      labelNames: ['connection'] as const,
      registers: [registry],
    }),
    retries: new Counter({
      name: `${PREFIX}retries_total`,
      help: 'Requests sent again, by reason',
      labelNames: ['connection', 'reason'] as const,
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: `${PREFIX}dead_letters_total`,
      help: 'Records written to the dead-letter topic',
      labelNames: ['stage', 'code'] as const,
      registers: [registry],
    }),
    confirmations: new Counter({
      name: `${PREFIX}import_confirmations_total`,
      help: 'Bulk imports settled, by final status',
      labelNames: ['connection', 'status'] as const,
      registers: [registry],
    }),
    unconfirmedImports: new Gauge({
      name: `${PREFIX}unconfirmed_imports`,
      help: 'Bulk imports accepted but not yet confirmed',
      labelNames: ['connection'] as const,
      registers: [registry],
    }),
    accountDown: new Gauge({
      name: `${PREFIX}account_down`,
      help: '1 while an account is failing (outage, 5xx, timeouts, bad token)',
      labelNames: ['connection', 'code'] as const,
      registers: [registry],
    }),
    lastFlushSuccess: new Gauge({
      name: `${PREFIX}last_successful_flush_timestamp_seconds`,
      help: 'When a bulk import was last accepted',
      labelNames: ['connection'] as const,
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: `${PREFIX}consumer_lag_messages`,
      help:
        "Log end offset minus the group's committed offset (the " +
        'lag probe refreshes it even while fetching is paused)',
      labelNames: ['topic', 'partition'] as const,
      registers: [registry],
    }),
    committedOffset: new Gauge({
      name: `${PREFIX}committed_offset`,
      help: 'Last offset committed',
      labelNames: ['topic', 'partition'] as const,
      registers: [registry],
    }),
    endToEnd: new Histogram({
      name: `${PREFIX}end_to_end_seconds`,
      help: 'From event time (occurredAt) or Kafka append time to acceptance by ActiveCampaign',
      labelNames: ['from'] as const,
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600],
      registers: [registry],
    }),
    decodeStalls: new Counter({
      name: `${PREFIX}decode_stalls_total`,
      help:
        'Times a partition paused because a record needed a ' +
        'service that did not answer (the schema registry), by code',
      labelNames: ['topic', 'code'] as const,
      registers: [registry],
    }),
    consumerRestarts: new Counter({
      name: `${PREFIX}consumer_restarts_total`,
      help:
        'Times the Kafka consumer crashed on a retriable error and was ' +
        'restarted (a non-retriable crash exits the process instead)',
      registers: [registry],
    }),
    paused: new Gauge({
      name: `${PREFIX}paused`,
      help: '1 while fetching is paused for backpressure or an account outage',
      registers: [registry],
    }),
    ready: new Gauge({
      name: `${PREFIX}ready`,
      help: '1 while /readyz answers 200 (Kafka reachable, every account token accepted, nothing fatal)',
      registers: [registry],
    }),
    kafkaReachable: new Gauge({
      name: `${PREFIX}kafka_reachable`,
      help: '1 when the last readiness probe reached the Kafka cluster',
      registers: [registry],
    }),
    tokenAccepted: new Gauge({
      name: `${PREFIX}token_accepted`,
      help: '1 when the last token check of an account was accepted, 0 when the token was refused (401/403)',
      labelNames: ['connection'] as const,
      registers: [registry],
    }),
    probeFailures: new Counter({
      name: `${PREFIX}probe_failures_total`,
      help: 'Readiness probes that failed, by probe (kafka, token)',
      labelNames: ['probe'] as const,
      registers: [registry],
    }),
    emailOnTwoPartitions: new Counter({
      name: `${PREFIX}email_partition_conflicts_total`,
      help:
        'Events whose (connection, list, email) the ledger also holds for another owned ' +
        'partition (two profiles share an email upstream): the newest change wins across them',
      registers: [registry],
    }),
    ledgerEntries: new Gauge({
      name: `${PREFIX}ledger_entries`,
      help: 'Membership ledger entries held in memory (owned partitions)',
      registers: [registry],
    }),
    ledgerBytes: new Gauge({
      name: `${PREFIX}ledger_index_bytes`,
      help: 'Bytes of the in-memory ledger index (owned partitions)',
      registers: [registry],
    }),
    ledgerRestoring: new Gauge({
      name: `${PREFIX}ledger_restoring_partitions`,
      help: 'Assigned partitions waiting for their ledger partition to be restored (not processed meanwhile)',
      registers: [registry],
    }),
    ledgerRestoreSeconds: new Histogram({
      name: `${PREFIX}ledger_restore_seconds`,
      help: 'Time to restore the ledger partitions of one assignment',
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers: [registry],
    }),
    writerBatches: new Counter({
      name: `${PREFIX}writer_batches_total`,
      help: 'Produce requests of the acked writers (dead letters, ledger records), by result (written, failed)',
      labelNames: ['writer', 'result'] as const,
      registers: [registry],
    }),
    writerBatchBytes: new Histogram({
      name: `${PREFIX}writer_batch_bytes`,
      help: 'Bytes (counted conservatively, before compression) of one acknowledged produce request of an acked writer',
      labelNames: ['writer'] as const,
      buckets: [1e3, 1e4, 1e5, 2.5e5, 5e5, 1e6, 2e6, 4e6, 8e6],
      registers: [registry],
    }),
    writerFailures: new Counter({
      name: `${PREFIX}writer_failures_total`,
      help:
        'Failed produce requests of an acked writer retried whole ' +
        'with backoff (the broker or the way to it, not a record)',
      labelNames: ['writer', 'reason'] as const,
      registers: [registry],
    }),
    writerRefused: new Counter({
      name: `${PREFIX}writer_refused_records_total`,
      help:
        'Records Kafka refused on their own (too_large, refused, failing), ' +
        'each then retried alone with backoff while the others are written',
      labelNames: ['writer', 'reason'] as const,
      registers: [registry],
    }),
    writerStuck: new Gauge({
      name: `${PREFIX}writer_stuck_records`,
      help:
        'Records refused on their own and not written yet: ' +
        'what they stand for stays uncommitted (its partition stops at its offset)',
      labelNames: ['writer'] as const,
      registers: [registry],
    }),
    writerBacklog: new Gauge({
      name: `${PREFIX}writer_backlog_records`,
      help: 'Records given to an acked writer and not acknowledged yet',
      labelNames: ['writer'] as const,
      registers: [registry],
    }),
    writerShrunk: new Counter({
      name: `${PREFIX}writer_shrunk_records_total`,
      help:
        'Records over the topic max.message.bytes written cut to fit (dead letters: ' +
        'the value, then source headers; the headers say what was cut)',
      labelNames: ['writer'] as const,
      registers: [registry],
    }),
    ledgerRestoreRecords: new Counter({
      name: `${PREFIX}ledger_restore_records_total`,
      help:
        'Ledger records read by restores, by result: applied, older (an entry with a newer ' +
        'occurredAt was already read: ignored), rebuild (ignored: the connection is rebuilt)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    ledgerRestoreRemaining: new Gauge({
      name: `${PREFIX}ledger_restore_remaining_offsets`,
      help: 'Offsets the restores under way still have to read, up to the end offsets they started with',
      registers: [registry],
    }),
    ledgerRestoreResumes: new Counter({
      name: `${PREFIX}ledger_restore_resumes_total`,
      help:
        'Restores resumed from the offsets they had reached, by reason: ' +
        'stalled (no progress for ledger.restoreTimeoutMs) or failed',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    ledgerWrites: new Counter({
      name: `${PREFIX}ledger_records_written_total`,
      help: 'Ledger records acknowledged by the broker',
      registers: [registry],
    }),
    lateImportReasserts: new Counter({
      name: `${PREFIX}late_import_reasserts_total`,
      help:
        'Changes sent again because a bulk import abandoned at its confirmation ' +
        'deadline completed later, over a newer change of the same contact and list',
      labelNames: ['connection'] as const,
      registers: [registry],
    }),
    erasures: new Counter({
      name: `${PREFIX}erasures_total`,
      help:
        'Erasure requests carried out per connection, by result: deleted (DELETE /contacts/{id}), ' +
        'absent (the account had no such contact), refused (dead-lettered; dlq replay retries it)',
      labelNames: ['connection', 'result'] as const,
      registers: [registry],
    }),
    contactLookups: new Counter({
      name: `${PREFIX}contact_lookups_total`,
      help:
        'Lookups (GET /contacts?email=) before sending removes of a contact the ledger does not know, ' +
        'by result (found, absent, refused); absent and refused leaves settle unsent',
      labelNames: ['connection', 'result'] as const,
      registers: [registry],
    }),
    memberReads: new Counter({
      name: `${PREFIX}member_reads_total`,
      help:
        "Reads of a list's members (GET /contacts?listid=, paged) that answer for many unknown " +
        'removes at once, by result: done, failed (its removes went back to per-email lookups)',
      labelNames: ['connection', 'result'] as const,
      registers: [registry],
    }),
    memberReadAnswers: new Counter({
      name: `${PREFIX}member_read_answers_total`,
      help:
        'Entries of removes only that a member read answered instead of a lookup, ' +
        'by result: found (sent by import), absent (not a member: settle unsent)',
      labelNames: ['connection', 'result'] as const,
      registers: [registry],
    }),
    emailChanges: new Counter({
      name: `${PREFIX}email_changes_total`,
      help:
        'Profiles whose email changed, by result: changed (PUT /contacts/{id} took the new email), ' +
        'missing (no contact to change), taken (dead-lettered EMAIL_TAKEN), failed (refused otherwise: ' +
        'sent as before), unresolved (known from the ledger without its contact id: sent as before)',
      labelNames: ['connection', 'result'] as const,
      registers: [registry],
    }),
    profileLookups: new Counter({
      name: `${PREFIX}profile_lookups_total`,
      help:
        'Lookups (GET /contacts?email=) of the contact id of a new profile, ' +
        'recorded in the ledger for later email changes, by result (found, absent)',
      labelNames: ['connection', 'result'] as const,
      registers: [registry],
    }),
    consentWebhooks: new Counter({
      name: `${PREFIX}consent_webhook_requests_total`,
      help:
        'Requests to the opt-out webhook, by result (recorded, ignored_type, ignored_source, ' +
        'unauthorized, malformed, too_large, rate_limited, not_found, method, failed); ' +
        'the answer is never 410, which would make ActiveCampaign deactivate the webhook',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    consentOptOuts: new Gauge({
      name: `${PREFIX}consent_opt_outs`,
      help: 'People (connection, email) with an opt-out of their own held from the consent topic',
      registers: [registry],
    }),
    tagRemovals: new Counter({
      name: `${PREFIX}tag_removals_total`,
      help:
        "Leaves whose export's tags were removed (exports.removeTagsOnLeave), " +
        'by result (removed, none: the contact had none of them, missing: no such contact, failed)',
      labelNames: ['connection', 'result'] as const,
      registers: [registry],
    }),
    resubscribes: new Counter({
      name: `${PREFIX}resubscribes_total`,
      help:
        'Re-entries after an unsubscribe made by this service, ' +
        'by result (subscribed, already, opted_out, bounced, missing, failed)',
      labelNames: ['connection', 'result'] as const,
      registers: [registry],
    }),
  };
  // The writers exist from the start: their gauges read 0 rather than nothing (alerts compare them).
  for (const writer of WRITERS) {
    m.writerStuck.set({ writer }, 0);
    m.writerBacklog.set({ writer }, 0);
    for (const reason of ['too_large', 'refused', 'failing']) m.writerRefused.inc({ writer, reason }, 0);
  }
  collectDefaultMetrics({ register: registry, prefix: PREFIX });
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
