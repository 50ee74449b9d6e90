import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { DLQ_HEADERS, dlqTopicFor } from '../dlq/envelope.js';
import { emailProblem, normaliseEmail } from '../domain/email.js';
import { SyncError } from '../domain/errors.js';
import { parseMembershipChange } from '../domain/event.js';
import { createKafka } from '../kafka/client.js';
import { headerText, readToEnd } from '../kafka/read-to-end.js';
import { partitionCount } from '../kafka/topics.js';
import { decodeLedgerValue, ledgerKey, ledgerTopicFor, type LedgerRecord } from '../ledger/record.js';
import { traceContact, type TraceLine, type TracedDeadLetter, type TracedEvent } from '../ledger/trace.js';
import { createLogger } from '../observability/logger.js';
import { secretReader } from '../config/secret.js';
import { decodeMarker, markerKey, newerMarker, PersonHasher, type ErasureMarker } from '../ledger/erasure.js';
import { personPart } from '../ledger/hashing.js';

/**
 * `trace --email E [--list L] --config FILE [--scan N] [--json]`: what the membership ledger holds for a contact,
 * and where its recent events went (applied, superseded or stale, dead-lettered with a code, skipped). Reads
 * Kafka only: the ledger topic whole (compacted: about one record per contact and list), and the last N records
 * of each partition of the source and dead-letter topics (--scan, default 200000), so older events are not shown.
 * Events in the Avro wire format are not decoded here.
 */
export async function traceCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      email: { type: 'string' },
      list: { type: 'string' },
      scan: { type: 'string', default: '200000' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!values.config) throw new SyncError('USAGE', 'trace needs --config FILE', false);
  if (!values.email) throw new SyncError('USAGE', 'trace needs --email EMAIL', false);
  const scan = Number(values.scan);
  if (!Number.isInteger(scan) || scan < 1)
    throw new SyncError(
      'USAGE',
      `--scan must be a positive whole number of records per partition, got "${values.scan}"`,
      false,
    );
  const email = normaliseEmail(values.email);
  const problem = emailProblem(email);
  if (problem) throw new SyncError('USAGE', `--email: ${problem}`, false);
  const config = loadConfig(values.config);
  if (values.list !== undefined && !config.exports.some((e) => e.listId === values.list))
    throw new SyncError('USAGE', `--list: no export maps list ${values.list}`, false);

  const kafka = createKafka(config.kafka, createLogger('silent'), '-trace');
  const admin = kafka.admin();
  await admin.connect();
  const out: { topic: string; lines: TraceLine[]; erased: Record<string, ErasureMarker> }[] = [];
  // A hashed ledger is keyed by the hash of the email asked about (README "Personal data").
  const hasher = new PersonHasher(
    config.ledger.hashKey ? secretReader(config.ledger.hashKey, 'ledger.hashKey')() : undefined,
  );
  const person = personPart(hasher, email);
  const connections = [...new Set(config.exports.map((e) => e.connection))];
  const markers = new Map(
    connections.flatMap((c) => hasher.markerDigests(email).map((d) => [markerKey(c, d), c] as const)),
  );
  try {
    for (const topic of config.kafka.topics) {
      const groupPrefix = `${config.kafka.groupId}.trace`;
      const tail = (_: number, low: number, high: number) => Math.max(low, high - scan);
      const ledger = new Map<string, LedgerRecord>();
      const erased: Record<string, ErasureMarker> = {};
      const ledgerTopic = ledgerTopicFor(topic, config.ledger.topic);
      if ((await partitionCount(admin, ledgerTopic)) !== undefined) {
        const wanted = new Set(config.exports.map((e) => ledgerKey(e.connection, e.listId, person)));
        await readToEnd(
          kafka,
          admin,
          ledgerTopic,
          (m) => {
            const k = m.key?.toString('utf8') ?? '';
            const connection = markers.get(k);
            const marker = connection !== undefined ? decodeMarker(m.value) : undefined;
            if (connection !== undefined && marker) erased[connection] = newerMarker(erased[connection], marker)!;
            const r = wanted.has(k) ? decodeLedgerValue(m.value) : undefined;
            if (r) ledger.set(k, r);
          },
          { groupPrefix },
        );
      }
      const deadLetters: TracedDeadLetter[] = [];
      const dlqTopic = dlqTopicFor(topic, config.deadLetter.topic);
      if ((await partitionCount(admin, dlqTopic)) !== undefined) {
        await readToEnd(
          kafka,
          admin,
          dlqTopic,
          (m) => {
            if (emailOf(m.value) !== email) return;
            const h = (name: string) => headerText(m, name) ?? '';
            deadLetters.push({
              topic: h(DLQ_HEADERS.topic),
              partition: Number(h(DLQ_HEADERS.partition)),
              offset: Number(h(DLQ_HEADERS.offset)),
              exportName: h(DLQ_HEADERS.export) || undefined,
              stage: h(DLQ_HEADERS.stage),
              code: h(DLQ_HEADERS.code),
              message: h(DLQ_HEADERS.message),
            });
          },
          { groupPrefix, from: tail },
        );
      }
      const events: TracedEvent[] = [];
      await readToEnd(
        kafka,
        admin,
        topic,
        ({ partition, ...m }) => {
          if (emailOf(m.value) !== email) return;
          const parsed = parseMembershipChange(JSON.parse(m.value!.toString('utf8')));
          // An erasure request names no list: the trace of lists leaves it out.
          if (!parsed.ok || parsed.change.op === 'erase') return;
          const c = parsed.change;
          events.push({
            topic,
            partition,
            offset: Number(m.offset),
            eventId: c.eventId,
            occurredAt: c.occurredAt,
            segmentId: c.segmentId,
            op: c.op,
          });
        },
        { groupPrefix, from: tail },
      );
      out.push({
        topic,
        erased,
        lines: traceContact(
          config.exports,
          (connection, listId) => ledger.get(ledgerKey(connection, listId, person)),
          events,
          deadLetters,
          values.list,
        ),
      });
    }
  } finally {
    await admin.disconnect();
  }
  const say = (line: string) => process.stdout.write(`${line}\n`);
  if (values.json) {
    say(JSON.stringify({ email, scannedPerPartition: scan, topics: out }, null, 2));
    return 0;
  }
  say(
    `${email} (the last ${scan} records of each source and dead-letter partition were scanned; the ledger topic whole)`,
  );
  for (const { topic, lines, erased } of out) {
    for (const [connection, m] of Object.entries(erased)) {
      say('');
      say(
        `${topic} → connection ${connection}: erased (request ` +
          `of ${new Date(m.occurredAt).toISOString()}, ${m.done ? 'done' : 'under way'}); ` +
          'events that occurred before it are suppressed',
      );
    }
    for (const line of lines) {
      say('');
      say(`${topic} → connection ${line.connection}, list ${line.listId} (exports ${line.exports.join(', ')})`);
      say(`  ledger: ${line.state}`);
      if (line.events.length === 0) say('  events: none found');
      for (const e of line.events.slice(-20))
        say(
          `  ${new Date(e.occurredAt).toISOString()} ${e.op.padEnd(6)} ${e.eventId} ` +
            `(${e.topic}/${e.partition}@${e.offset}): ${e.fate}`,
        );
      if (line.events.length > 20) say(`  (${line.events.length - 20} older events not shown)`);
    }
  }
  return 0;
}

/** The normalised email of a JSON event value, or undefined for anything else (cheap pre-check first). */
function emailOf(value: Buffer | null): string | undefined {
  if (value?.[0] !== 0x7b) return undefined;
  try {
    const email = (JSON.parse(value.toString('utf8')) as { profile?: { email?: unknown } }).profile?.email;
    return typeof email === 'string' ? normaliseEmail(email) : undefined;
  } catch {
    return undefined;
  }
}
