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
    throw new ConfigError('(file)', `${file} is not valid JSON: ${syntaxProblem((err as Error).message, text)}`);
  }
  return parseConfig(value);
}

/**
 * V8's JSON.parse message, without the text it quotes: up to 10 characters either side of the fault, which can be
 * an inline secret (`"apiKey": {"value": …}`) that nothing has registered with the log scrubber yet. The quoted
 * text is found in the file and named by its line and column instead.
 */
export function syntaxProblem(message: string, text: string): string {
  // [\s\S]: the unexpected token may be a line terminator (U+2028), which `.` does not match.
  const quoted = /^([\s\S]*?), (\.\.\.)?"([\s\S]*?)"(?:\.\.\.)? is not valid JSON$/.exec(message);
  // The other messages give a position, not text; whatever one quotes is cut off all the same.
  if (!quoted) return message.split('"')[0]!.trim();
  const [, what, cut, fragment] = quoted as unknown as [string, string, string | undefined, string];
  const found = text.indexOf(fragment);
  if (found < 0) return what;
  // A fragment cut on the left starts 10 characters before the fault; otherwise the fault is the token's first
  // appearance in it (V8 quotes a short text whole).
  const token = /^Unexpected token '([\s\S])'/u.exec(what)?.[1];
  const at = cut ? found + 10 : token === undefined ? found : Math.max(found, text.indexOf(token, found));
  const before = text.slice(0, at).split('\n');
  return `${what} at line ${before.length} column ${before.at(-1)!.length + 1}`;
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
