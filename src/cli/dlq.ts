import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { SyncError } from '../domain/errors.js';
import { formatInspect } from '../dlq/inspect.js';
import { inspectDeadLetters, replayDeadLetters } from '../dlq/tools.js';
import { createLogger, setShowEmails } from '../observability/logger.js';
import { parseTimestamp } from '../replay/from.js';

export const DLQ_USAGE = `usage: ac-list-sync dlq <inspect|replay> --config FILE [options]
  dlq inspect [--topic T]                                    dead letters by stage and code, with masked samples
  dlq replay [--stage S] [--code C] [--since <ISO time>] [--topic T] [--dry-run]
                                                             re-publish matching dead letters to their source topic`;

/**
 * `dlq inspect` and `dlq replay`. Both read each dead-letter topic up to its end offsets at start. Output on
 * stdout, logs on stderr; exit 0, or 2 for a usage or config error.
 */
export async function dlqCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'inspect' && sub !== 'replay') {
    process.stderr.write(`${DLQ_USAGE}\n`);
    return sub === undefined || sub === '--help' ? 0 : 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string', short: 'c' },
      topic: { type: 'string' },
      ...(sub === 'replay'
        ? ({
            stage: { type: 'string' },
            code: { type: 'string' },
            since: { type: 'string' },
            'dry-run': { type: 'boolean', default: false },
          } as const)
        : {}),
    },
  });
  if (!values.config) throw new SyncError('USAGE', `dlq ${sub} needs --config FILE`, false);
  const config = loadConfig(values.config);
  setShowEmails(config.log.showEmails);
  const log = createLogger(config.log.level, undefined, config.log.format);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const topic = values.topic as string | undefined;

  if (sub === 'inspect') {
    for (const r of await inspectDeadLetters(config, log, topic)) {
      if (!r.exists) say(`${r.topic}: no such topic (nothing has been dead-lettered yet)`);
      else for (const line of formatInspect(r.topic, r.total, r.groups)) say(line);
    }
    return 0;
  }

  const v = values as { stage?: string; code?: string; since?: string; 'dry-run'?: boolean };
  const filter = {
    ...(v.stage !== undefined ? { stage: v.stage } : {}),
    ...(v.code !== undefined ? { code: v.code } : {}),
    ...(v.since !== undefined ? { since: parseTimestamp(v.since, '--since') } : {}),
  };
  const dryRun = v['dry-run'] === true;
  for (const r of await replayDeadLetters(config, log, filter, { ...(topic !== undefined ? { topic } : {}), dryRun })) {
    if (!r.exists) {
      say(`${r.topic}: no such topic (nothing has been dead-lettered yet)`);
      continue;
    }
    const sent =
      Object.entries(r.republished)
        .map(([t, n]) => `${n} to ${t}`)
        .join(', ') || 'none';
    say(
      `${r.topic}: ${r.matched} of ${r.read} dead letters ` +
        `matched; ${dryRun ? 'would re-publish' : 're-published'} ${sent}`,
    );
    for (const [reason, n] of Object.entries(r.skipped)) say(`  not re-published: ${n} (${reason})`);
  }
  return 0;
}
