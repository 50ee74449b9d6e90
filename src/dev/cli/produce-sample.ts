import { parseArgs } from 'node:util';
import { createKafka } from '../../kafka/client.js';
import { createLogger } from '../../observability/logger.js';
import { produceSampleEvents } from '../sample/produce.js';

/**
 * `produce-sample`: writes a deterministic stream of sample membership changes to a topic, for trying the
 * service out (the compose stack's one-shot job runs it).
 *
 *   --brokers B        bootstrap brokers, comma-separated (default $KAFKA_BROKERS, else localhost:9092)
 *   --topic T          the source topic (required); created when missing
 *   --partitions N     partitions of the topic when it is created here (default 3)
 *   --events N         how many events (default 1000)
 *   --profiles N       how many distinct profiles (default a third of the events)
 *   --segments a,b,c   segment ids (default vip-customers,newsletter,churn-risk)
 *   --seed N           seed of the stream: the same seed gives the same changes and event ids (default 1);
 *                      occurredAt starts at the time of the run, so a rerun is newer than what it repeats
 *
 * Returns the exit code: 0 once every event is written, 2 for bad arguments.
 */
export const PRODUCE_SAMPLE_USAGE =
  'usage: produce-sample --topic T [--brokers B] [--partitions ' +
  'N] [--events N] [--profiles N] [--segments a,b,c] [--seed N]';

export interface ProduceSampleArgs {
  brokers: string[];
  topic: string;
  partitions: number;
  events: number;
  profiles: number;
  segments: string[];
  seed: number;
}

/** Parses and checks the arguments; throws an Error whose message names the flag. */
export function parseProduceSampleArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ProduceSampleArgs {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      brokers: { type: 'string' },
      topic: { type: 'string' },
      partitions: { type: 'string', default: '3' },
      events: { type: 'string', default: '1000' },
      profiles: { type: 'string' },
      segments: { type: 'string', default: 'vip-customers,newsletter,churn-risk' },
      seed: { type: 'string', default: '1' },
    },
  });
  const whole = (flag: string, raw: string, min: number): number => {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isInteger(n) || n < min)
      throw new Error(`--${flag} must be a whole number of at least ${min}, got "${raw}"`);
    return n;
  };
  if (!values.topic) throw new Error('--topic is required');
  const brokers = (values.brokers ?? env.KAFKA_BROKERS ?? 'localhost:9092')
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  if (brokers.length === 0) throw new Error('--brokers must name at least one host:port');
  const segments = values.segments
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (segments.length === 0) throw new Error('--segments must name at least one segment id');
  const events = whole('events', values.events, 1);
  return {
    brokers,
    topic: values.topic,
    partitions: whole('partitions', values.partitions, 1),
    events,
    profiles:
      values.profiles === undefined ? Math.max(1, Math.ceil(events / 3)) : whole('profiles', values.profiles, 1),
    segments,
    seed: whole('seed', values.seed, 0),
  };
}

export async function produceSampleCommand(argv: string[]): Promise<number> {
  let args: ProduceSampleArgs;
  try {
    args = parseProduceSampleArgs(argv);
  } catch (err) {
    process.stderr.write(`produce-sample: ${(err as Error).message}\n${PRODUCE_SAMPLE_USAGE}\n`);
    return 2;
  }
  const log = createLogger('warn');
  const kafka = createKafka(
    {
      brokers: args.brokers,
      clientId: 'ac-list-sync-sample',
      groupId: 'ac-list-sync-sample',
      topics: [args.topic],
      fromBeginning: true,
      sessionTimeoutMs: 30_000,
      heartbeatIntervalMs: 3_000,
      commitIntervalMs: 1_000,
      compression: 'none',
      ssl: false,
    },
    log,
  );
  const result = await produceSampleEvents(kafka, args.topic, args.partitions, {
    events: args.events,
    profiles: args.profiles,
    segments: args.segments,
    removeRatio: 0.25,
    reentry: false,
    seed: args.seed,
    start: Date.now(),
  });
  const topicNote = result.created ? ` (created with ${args.partitions} partitions)` : '';
  process.stdout.write(
    `Produced ${result.produced} sample events for segments ${args.segments.join(', ')} ` +
      `to ${args.topic}${topicNote} on ${args.brokers.join(',')}.\n`,
  );
  return 0;
}
