import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { SyncError } from '../domain/errors.js';
import { createLogger, setShowEmails } from '../observability/logger.js';
import { parseFrom, parseTimestamp } from '../replay/from.js';
import { progressReporter } from '../replay/progress.js';
import { runReplay } from '../replay/run.js';
import { formatSummary } from '../replay/summary.js';

export const REPLAY_USAGE =
  'usage: ac-list-sync replay --config FILE ' +
  `--from earliest|<ISO time>|<partition:offset,...> [options]
  --to <ISO time>            stop before the first record with a Kafka timestamp at or after this time
  --group NAME               the replay's consumer group (default: <kafka.groupId>-replay-<UTC time>; ` +
  `never the live group)
  --topic T                  replay only this one of kafka.topics (needed for partition:offset with several topics)
  --rebuild-ledger C[,C...]  these connections' ledger is ignored and rewritten ` +
  `(a new or emptied account: send everything)
  --progress-interval S      seconds between progress lines when the output is not a terminal (default 5)
exit: 0 complete, 4 complete with dead letters, 3 stopped before the end, 2 usage or config error, 1 failure`;

/**
 * `replay`: a bounded run over a past range of the source topics, beside the live sync, at the connections'
 * replay share of each account. Progress and the summary go to stdout, logs to stderr.
 */
export async function replayCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      from: { type: 'string' },
      to: { type: 'string' },
      group: { type: 'string' },
      topic: { type: 'string' },
      'rebuild-ledger': { type: 'string' },
      'progress-interval': { type: 'string', default: '5' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${REPLAY_USAGE}\n`);
    return 0;
  }
  if (!values.config) throw new SyncError('USAGE', 'replay needs --config FILE', false);
  if (!values.from)
    throw new SyncError('USAGE', 'replay needs --from earliest, an ISO time or partition:offset pairs', false);
  const from = parseFrom(values.from);
  const to = values.to === undefined ? undefined : parseTimestamp(values.to, '--to');
  if (to !== undefined && from.kind === 'timestamp' && to <= from.at)
    throw new SyncError('USAGE', 'replay: --to must be after --from', false);
  const intervalSeconds = Number(values['progress-interval']);
  if (!Number.isFinite(intervalSeconds) || intervalSeconds < 0.1)
    throw new SyncError('USAGE', 'replay: --progress-interval must be a number of seconds, at least 0.1', false);

  const rebuildLedger = values['rebuild-ledger']?.split(',').map((c) => c.trim());
  if (rebuildLedger?.some((c) => c === ''))
    throw new SyncError('USAGE', 'replay: --rebuild-ledger takes connection names separated by commas', false);
  const config = loadConfig(values.config);
  setShowEmails(config.log.showEmails);
  const log = createLogger(config.log.level, undefined, config.log.format);
  const abort = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    log.info({ signal }, 'Stopping the replay: what was taken is flushed, confirmed and committed');
    abort.abort();
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);

  const progress = progressReporter(process.stdout, { intervalMs: intervalSeconds * 1000 });
  const { summary, exitCode } = await runReplay(config, {
    from,
    ...(to !== undefined ? { to } : {}),
    ...(values.group !== undefined ? { group: values.group } : {}),
    ...(values.topic !== undefined ? { topic: values.topic } : {}),
    log,
    progress,
    signal: abort.signal,
    ...(rebuildLedger ? { service: { rebuildLedger } } : {}),
  });
  process.stdout.write(`${formatSummary(summary).join('\n')}\n`);
  return exitCode;
}
