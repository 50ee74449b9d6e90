import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';

/** `check-config --config FILE`: validates a config file offline; prints "ok" or the one-line error. */
export async function checkConfigCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' } } });
  if (!values.config) throw new Error('check-config needs --config FILE');
  const config = loadConfig(values.config);
  process.stdout.write(`ok: ${config.exports.length} exports, ${Object.keys(config.connections).length} connections, topics ${config.kafka.topics.join(', ')}\n`);
  return 0;
}
