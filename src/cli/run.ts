import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { SyncError } from '../domain/errors.js';
import { startService } from '../service.js';
import { createLogger } from '../observability/logger.js';

/** Exit code of a consumer crash that kafkajs does not restart from (distinct from 0–4 of the other commands). */
export const EXIT_CONSUMER_CRASHED = 5;

/**
 * `run --config FILE [--dry-run]`: the live sync (a dry run reads the account but writes nothing) until SIGTERM/SIGINT.
 * Exit 0 after a clean stop, 3 when something stayed unsettled (or the deadline passed), 5 at once when the
 * consumer crashed and does not restart.
 */
export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c' }, 'dry-run': { type: 'boolean', default: false } },
  });
  if (!values.config) throw new SyncError('USAGE', 'run needs --config FILE', false);
  const config = loadConfig(values.config);
  const log = createLogger(config.log.level, undefined, config.log.format);
  const dryRun = values['dry-run'] ? (line: string) => process.stdout.write(`${line}\n`) : undefined;
  // Listen before starting: start-up may wait long for Kafka or an account, and in a container node is PID 1,
  // which ignores a signal it has no handler for. Before start-up ends nothing has settled, so leaving is safe.
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const first = await Promise.race([startService(config, { log, ...(dryRun ? { dryRun } : {}) }), signalled]);
  if (typeof first === 'string') {
    log.info({ signal: first }, 'Stopping during start-up');
    return 0;
  }
  const service = first;
  const signal = await Promise.race([signalled, service.fatal.then((reason) => ({ reason }))]);
  if (typeof signal !== 'string') {
    // No drain and no final commit: the consumer has left the group, so its partitions may already be another
    // member's. Whatever was not committed is fetched again by the next owner; a restart (the orchestrator's) retries.
    log.fatal({ exitCode: EXIT_CONSUMER_CRASHED }, `Exiting: ${signal.reason}`);
    return EXIT_CONSUMER_CRASHED;
  }
  log.info({ signal }, 'Stopping');
  // The deadline holds whatever a step is doing (a writer retrying, a broker that does not answer).
  const watchdog = new Promise<number>((resolve) =>
    setTimeout(() => {
      log.error(
        { unsettled: service.unsettled() },
        'The shutdown deadline passed before the service stopped; ' +
          'exiting with events unsettled (they will be fetched again)',
      );
      resolve(3);
    }, config.shutdown.deadlineMs).unref(),
  );
  return Promise.race([service.stop().then(({ clean }) => (clean ? 0 : 3)), watchdog]);
}
