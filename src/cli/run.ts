import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { SyncError } from '../domain/errors.js';
import { startService } from '../main.js';
import { createLogger } from '../observability/logger.js';

/** `run --config FILE [--dry-run]`: the live sync (a dry run reads the account but writes nothing) until SIGTERM/SIGINT. Exit 0 after a clean stop, 3 at the deadline. */
export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, 'dry-run': { type: 'boolean', default: false } } });
  if (!values.config) throw new SyncError('USAGE', 'run needs --config FILE', false);
  const config = loadConfig(values.config);
  const log = createLogger(config.log.level);
  const dryRun = values['dry-run'] ? (line: string) => process.stdout.write(`${line}\n`) : undefined;
  const service = await startService(config, { log, ...(dryRun ? { dryRun } : {}) });
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log.info({ signal }, 'Stopping');
  const { clean } = await service.stop();
  return clean ? 0 : 3;
}
