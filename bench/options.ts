import { parseArgs } from 'node:util';

/**
 * The benchmark's sizes: flags, each also settable as an environment variable (BENCH_ + the flag in capitals,
 * dashes as underscores: --json-events → BENCH_JSON_EVENTS). A flag wins over the variable. `--smoke` starts
 * from small sizes that finish in well under a minute (CI); the default run takes a few minutes on 2 cores.
 */
export interface BenchOptions {
  /** Step 1, JSON: events in the topic both the raw consumer and the service read. */
  jsonEvents: number;
  /** Step 1, Avro (Confluent wire format, schema registry). */
  avroEvents: number;
  /** Step 2: distinct contacts through ActiveCampaign's limits, time-scaled. */
  apiContacts: number;
  /** Step 2: a fixed time scale instead of the one derived from step 1 (0: derive it). */
  apiTimeScale: number;
  /** Step 2: the simulator's per-minute import limiter (CONTRACT.md §2 leaves AC's own unconfirmed). */
  apiLimiter: 'sliding' | 'fixed' | 'token-bucket';
  /** Step 2: extra time each import spends active in the simulator, heavy-tailed or none. */
  apiLatency: 'none' | 'lognormal' | 'pareto';
  /** Step 3: the trickle. */
  trickleRate: number;
  trickleSeconds: number;
  /** Step 4: events written while the simulator is down. */
  outageEvents: number;
  /** Step 5: ledger records read back by the raw consumer and by the ledger restore. */
  ledgerRecords: number;
  /** Step 6: distinct contacts that each join 3 lists at once, through ActiveCampaign's limits, time-scaled. */
  multiContacts: number;
  /** Step 6: a fixed time scale instead of the one derived from step 1 (0: derive it). */
  multiTimeScale: number;
  partitions: number;
  /** Parallel producers filling the step-1 topics. */
  producers: number;
  /** Where latest.json and latest.md go. */
  out: string;
  smoke: boolean;
}

export const DEFAULTS: Omit<BenchOptions, 'smoke' | 'out'> = {
  jsonEvents: 1_000_000,
  avroEvents: 200_000,
  apiContacts: 200_000,
  apiTimeScale: 0,
  apiLimiter: 'sliding',
  apiLatency: 'none',
  trickleRate: 20,
  trickleSeconds: 60,
  outageEvents: 300_000,
  ledgerRecords: 1_000_000,
  multiContacts: 60_000,
  multiTimeScale: 0,
  partitions: 4,
  producers: 2,
};

export const SMOKE: Omit<BenchOptions, 'smoke' | 'out'> = {
  jsonEvents: 20_000,
  avroEvents: 5_000,
  apiContacts: 5_000,
  apiTimeScale: 0,
  apiLimiter: 'sliding',
  apiLatency: 'none',
  trickleRate: 20,
  trickleSeconds: 3,
  outageEvents: 5_000,
  ledgerRecords: 20_000,
  multiContacts: 1_500,
  multiTimeScale: 0,
  partitions: 2,
  producers: 1,
};

export const USAGE =
  'usage: npm run bench -- [--smoke] [--json-events N] [--avro-events N] [--api-contacts N | --api-1m] ' +
  `[--api-time-scale K]
                     [--api-limiter sliding|fixed|token-bucket] [--api-latency none|lognormal|pareto]
                     [--trickle-rate N] [--trickle-seconds N] [--outage-events N] [--ledger-records N]
                     [--multi-contacts N] [--multi-time-scale K] [--partitions N] [--producers N] [--out DIR]
Each flag can also be set as BENCH_<FLAG> (e.g. BENCH_JSON_EVENTS=200000). Broker: KAFKA_BROKERS, else the local one.`;

const NUMERIC = [
  'json-events',
  'avro-events',
  'api-contacts',
  'api-time-scale',
  'trickle-rate',
  'trickle-seconds',
  'outage-events',
  'ledger-records',
  'multi-contacts',
  'multi-time-scale',
  'partitions',
  'producers',
] as const;
type NumericFlag = (typeof NUMERIC)[number];
const CHOICES = {
  'api-limiter': ['sliding', 'fixed', 'token-bucket'],
  'api-latency': ['none', 'lognormal', 'pareto'],
} as const;
type NumericKey = {
  [K in keyof typeof DEFAULTS]: (typeof DEFAULTS)[K] extends number ? K : never;
}[keyof typeof DEFAULTS];
const KEY: Record<NumericFlag, NumericKey> = {
  'json-events': 'jsonEvents',
  'avro-events': 'avroEvents',
  'api-contacts': 'apiContacts',
  'api-time-scale': 'apiTimeScale',
  'trickle-rate': 'trickleRate',
  'trickle-seconds': 'trickleSeconds',
  'outage-events': 'outageEvents',
  'ledger-records': 'ledgerRecords',
  'multi-contacts': 'multiContacts',
  'multi-time-scale': 'multiTimeScale',
  partitions: 'partitions',
  producers: 'producers',
};

const envName = (flag: string) => `BENCH_${flag.toUpperCase().replace(/-/g, '_')}`;

/** Throws an Error naming the flag (or variable) and the value it got. */
export function parseBenchOptions(argv: string[], env: NodeJS.ProcessEnv, defaultOut: string): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      ...Object.fromEntries(NUMERIC.map((f) => [f, { type: 'string' as const }])),
      'api-1m': { type: 'boolean' },
      'api-limiter': { type: 'string' },
      'api-latency': { type: 'string' },
      smoke: { type: 'boolean' },
      out: { type: 'string' },
    },
  });
  const flag = (name: string): string | boolean | undefined =>
    (values as Record<string, string | boolean | undefined>)[name];
  const truthy = (name: string) => flag(name) === true || ['1', 'true', 'yes'].includes(env[envName(name)] ?? '');
  const smoke = truthy('smoke');
  const options: BenchOptions = {
    ...(smoke ? SMOKE : DEFAULTS),
    smoke,
    out: (flag('out') as string | undefined) ?? env.BENCH_OUT ?? defaultOut,
  };
  if (truthy('api-1m')) options.apiContacts = 1_000_000;
  for (const name of NUMERIC) {
    const fromFlag = flag(name) as string | undefined;
    const raw = fromFlag ?? env[envName(name)];
    if (raw === undefined) continue;
    const n = Number(raw.replace(/_/g, ''));
    const where = fromFlag !== undefined ? `--${name}` : envName(name);
    if (raw.trim() === '' || !Number.isInteger(n) || n < 1)
      throw new Error(`${where} must be a whole number of at least 1, got "${raw}"`);
    options[KEY[name]] = n;
  }
  for (const [name, allowed] of Object.entries(CHOICES)) {
    const raw = (flag(name) as string | undefined) ?? env[envName(name)];
    if (raw === undefined) continue;
    if (!(allowed as readonly string[]).includes(raw))
      throw new Error(`--${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
    if (name === 'api-limiter') options.apiLimiter = raw as BenchOptions['apiLimiter'];
    else options.apiLatency = raw as BenchOptions['apiLatency'];
  }
  for (const [flag, scale] of [
    ['--api-time-scale', options.apiTimeScale],
    ['--multi-time-scale', options.multiTimeScale],
  ] as const) {
    if (scale > 1_000) throw new Error(`${flag} must be at most 1000 (the bound of delivery.timeScale), got ${scale}`);
  }
  if (options.trickleRate > 1_000)
    throw new Error(`--trickle-rate must be at most 1000 events/s, got ${options.trickleRate}`);
  return options;
}
