import { readFileSync } from 'node:fs';
import { ConfigError } from '../domain/errors.js';
import { MAX_SHARES } from '../offsets/tracker.js';
import { configSchema, type Config } from './schema.js';

/** Parses a config value; throws ConfigError with a one-line message naming the first bad key. */
export function parseConfig(value: unknown): Config {
  const parsed = configSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.join('.') || '(root)';
    const keys = issue.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')})` : '';
    throw new ConfigError(path, `${issue.message}${keys}`);
  }
  checkReferences(parsed.data);
  return parsed.data;
}

/** Reads and parses a JSON config file. */
export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('(file)', `cannot read ${file}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('(file)', `${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parseConfig(value);
}

function checkReferences(config: Config): void {
  const names = new Set<string>();
  config.exports.forEach((exp, i) => {
    if (names.has(exp.name)) throw new ConfigError(`exports.${i}.name`, `"${exp.name}" is used by another export`);
    names.add(exp.name);
    if (!config.connections[exp.connection]) {
      throw new ConfigError(`exports.${i}.connection`, `no connection named "${exp.connection}"`);
    }
  });
  // An event keeps one share per enabled export of its segment (an erasure one per connection) in its offset's
  // tracker, which holds at most MAX_SHARES: past that every such event would fail inside the batch, for ever.
  const perSegment = new Map<string, number>();
  config.exports.forEach((exp, i) => {
    if (!exp.enabled) return;
    const n = (perSegment.get(exp.segmentId) ?? 0) + 1;
    perSegment.set(exp.segmentId, n);
    if (n > MAX_SHARES)
      throw new ConfigError(
        `exports.${i}.segmentId`,
        `segment "${exp.segmentId}" may have at most ${MAX_SHARES} enabled exports; disable or remove some`,
      );
  });
  const connections = Object.keys(config.connections).length;
  if (connections > MAX_SHARES)
    throw new ConfigError('connections', `at most ${MAX_SHARES} connections, not ${connections}`);
}
