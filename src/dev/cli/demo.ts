import { parseArgs } from 'node:util';
import { Partitioners, type Admin } from 'kafkajs';
import { parseConfig } from '../../config/load.js';
import { createKafka } from '../../kafka/client.js';
import { startLocalBroker, stopLocalBroker } from '../local-broker.js';
import { ensureTopic } from '../../kafka/topics.js';
import { startService } from '../../service.js';
import { createLogger } from '../../observability/logger.js';
import { membershipDiff, sampleEvents } from '../sample/events.js';
import { startSimulator } from '../../../packages/ac-simulator/src/index.js';

/**
 * `demo`: the main job on embedded defaults. Local broker (unless KAFKA_BROKERS is set), the simulator, a topic
 * of sample events keyed by profile id, the sync until the simulator holds the expected membership, a summary.
 * Exit 0 when the membership matches, 1 when it does not.
 */
export async function demoCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      events: { type: 'string', default: '10000' },
      profiles: { type: 'string', default: '3000' },
      'time-scale': { type: 'string', default: '1' },
      timeout: { type: 'string', default: '300' },
      'log-level': { type: 'string', default: 'error' },
    },
  });
  const events = Number(values.events);
  const timeScale = Number(values['time-scale']);
  const log = createLogger(values['log-level']);
  const started = Date.now();
  const cleanup: (() => Promise<unknown>)[] = [];
  const say = (line: string) => process.stdout.write(`${line}\n`);
  try {
    let brokers = process.env.KAFKA_BROKERS;
    if (!brokers) {
      say('Starting the local Kafka broker (the first start downloads Apache Kafka from Maven Central)…');
      const local = await startLocalBroker();
      brokers = local.brokers;
      if (local.startedHere) cleanup.push(() => stopLocalBroker());
    }
    const sim = await startSimulator({
      timeScale,
      lists: [1, 2, 3].map((i) => ({ id: String(i), name: `Segment list ${i}` })),
    });
    cleanup.push(() => sim.close());
    say(`Broker ${brokers}; ActiveCampaign simulator ${sim.url} (time scale ${timeScale})`);

    const topic = `ac-list-sync-demo-${Date.now()}`;
    const segments = ['vip-customers', 'newsletter', 'churn-risk'];
    const config = parseConfig({
      kafka: { brokers: brokers.split(','), topics: [topic], groupId: `${topic}-sync`, sessionTimeoutMs: 10_000 },
      connections: { demo: { apiUrl: sim.url, apiKey: { value: sim.options.apiToken }, privacyAcknowledged: true } },
      exports: segments.map((segmentId, i) => ({
        name: segmentId,
        segmentId,
        connection: 'demo',
        listId: String(i + 1),
      })),
      delivery: { timeScale },
      http: { port: 0 },
      log: { level: values['log-level'] },
    });
    const kafka = createKafka(config.kafka, log);
    const admin: Admin = kafka.admin();
    await admin.connect();
    cleanup.push(() => admin.disconnect());
    await ensureTopic(admin, topic, 3);

    const expected = new Map<string, Map<string, 'add' | 'remove'>>();
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const sample = [
      ...sampleEvents(
        {
          events,
          profiles: Number(values.profiles),
          segments,
          removeRatio: 0.25,
          reentry: false,
          seed: 7,
          start: Date.parse('2026-11-28T10:00:00Z'),
        },
        expected,
      ),
    ];
    for (let i = 0; i < sample.length; i += 1000) {
      await producer.send({
        topic,
        messages: sample.slice(i, i + 1000).map((e) => ({ key: e.key, value: JSON.stringify(e.value) })),
      });
    }
    await producer.disconnect();
    say(`Produced ${sample.length} events for ${segments.length} segments to ${topic}`);

    const service = await startService(config, { log });
    cleanup.push(() => service.stop());
    const listOf = (segmentId: string) => String(segments.indexOf(segmentId) + 1);
    const deadline = Date.now() + Number(values.timeout) * 1000;
    let diffs: string[] = ['not checked yet'];
    while (Date.now() < deadline) {
      const snap = sim.snapshot();
      diffs = membershipDiff(expected, listOf, (id) => snap.lists[id]?.members ?? {});
      if (diffs.length === 0 && service.ingest.pending === 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const snap = sim.snapshot();
    const totals = service.ingest.totals;
    say('');
    say(
      `Events consumed:   ${totals.consumed} (delivered ${totals.delivered}, ` +
        `dead-lettered ${totals.deadLettered}, skipped ${totals.skipped})`,
    );
    for (const [i, segmentId] of segments.entries()) {
      const members = Object.values(snap.lists[String(i + 1)]?.members ?? {});
      say(
        `List ${i + 1} (${segmentId}): ${members.filter((m) => m.status === 1).length} ` +
          `subscribed, ${members.filter((m) => m.status === 2).length} unsubscribed`,
      );
    }
    say(
      `API requests:      ${snap.counters.requests} (${snap.counters.importsAccepted} ` +
        `bulk imports, ${snap.counters.rateLimited429} answered 429)`,
    );
    say(`Elapsed:           ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (diffs.length) {
      say(`Membership does NOT match the events: ${diffs.length} differences, e.g. ${diffs.slice(0, 3).join('; ')}`);
      return 1;
    }
    say('Membership matches the last event per (segment, contact).');
    return 0;
  } finally {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  }
}
