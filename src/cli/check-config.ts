import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { checkAccounts, createClients } from '../deliver/wiring.js';
import { ConfigError, SyncError } from '../domain/errors.js';
import { createKafka } from '../kafka/client.js';
import { createLogger, scrubLine } from '../observability/logger.js';

/**
 * `check-config --config FILE [--online [--timeout S]]`: validates a config file offline; with --online also
 * connects to Kafka (the cluster answers, every source topic exists) and to each account (every export's list and
 * custom field exists). Prints one "ok" line per check, or one line naming the key that is wrong.
 * Exit 0 when everything holds, 2 for a wrong setting, 1 when Kafka or an account could not be checked within
 * --timeout (no answer, or a refused token).
 */
export async function checkConfigCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      online: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '15' },
    },
  });
  if (!values.config) throw new SyncError('USAGE', 'check-config needs --config FILE', false);
  const timeoutMs = Number(values.timeout) * 1000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new SyncError('USAGE', `--timeout must be a number of seconds, got "${values.timeout}"`, false);
  const config = loadConfig(values.config);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(
    `ok: ${config.exports.length} exports, ${Object.keys(config.connections).length} connections, ` +
      `topics ${config.kafka.topics.join(', ')}`,
  );
  if (!values.online) return 0;
  const unreachable = (key: string, what: string, reason: string) => {
    const line = `ac-list-sync: ${key}: ${what} could not be checked within ${values.timeout} s (${reason})`;
    process.stderr.write(`${scrubLine(line)}\n`);
    return 1;
  };
  const kafka = await checkKafka(config, timeoutMs);
  if ('unreachable' in kafka)
    return unreachable('kafka.brokers', `Kafka at ${config.kafka.brokers.join(', ')}`, kafka.unreachable);
  say(`ok: Kafka answers (${kafka.brokers} brokers); topics exist: ${config.kafka.topics.join(', ')}`);
  for (const name of Object.keys(config.connections)) {
    const account = await checkAccount(config, name, timeoutMs);
    if (account.unreachable)
      return unreachable(
        `connections.${name}.apiUrl`,
        `the ActiveCampaign account at ${config.connections[name]!.apiUrl}`,
        account.unreachable,
      );
    say(`ok: connection "${name}": every list and custom field of its exports exists`);
  }
  return 0;
}

/** Kafka answers and every source topic exists (a missing one is a ConfigError naming kafka.topics.N). */
async function checkKafka(config: Config, timeoutMs: number): Promise<{ brokers: number } | { unreachable: string }> {
  const admin = createKafka(config.kafka, createLogger('silent'), '-check').admin({ retry: { retries: 2 } });
  const attempt = (async () => {
    await admin.connect();
    const { brokers } = await admin.describeCluster();
    const existing = new Set(await admin.listTopics());
    config.kafka.topics.forEach((topic, i) => {
      if (!existing.has(topic)) throw new ConfigError(`kafka.topics.${i}`, `topic "${topic}" does not exist`);
    });
    return { brokers: brokers.length };
  })();
  attempt.catch(() => undefined); // it may fail after the timeout won
  try {
    return await withTimeout(attempt, timeoutMs);
  } catch (err) {
    if (err instanceof SyncError) throw err;
    return { unreachable: (err as Error).message };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** The start-up check of one account, bounded: a missing list or field throws ConfigError; no answer is reported. */
async function checkAccount(config: Config, name: string, timeoutMs: number): Promise<{ unreachable?: string }> {
  const one: Config = { ...config, connections: { [name]: config.connections[name]! } };
  const clients = createClients(one);
  // checkAccounts logs why it waits; keep the last reason for the one-line answer.
  let reason = 'no answer';
  const log = createLogger(
    'warn',
    { write: (line: string) => void (reason = (JSON.parse(line) as { reason?: string }).reason ?? reason) },
    'json',
  );
  const abort = new AbortController();
  const check = checkAccounts(one, clients, log, abort.signal);
  check.catch(() => undefined); // it gives up at its next retry after the abort
  try {
    await withTimeout(check, timeoutMs);
    return {};
  } catch (err) {
    if (err instanceof SyncError) throw err;
    return { unreachable: reason };
  } finally {
    abort.abort();
    for (const c of clients.values()) await c.close();
  }
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), ms)));
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
