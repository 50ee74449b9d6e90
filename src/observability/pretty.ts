import type { DestinationStream } from 'pino';

/**
 * Readable log lines for a terminal, from pino's JSON lines (no pino-pretty dependency):
 *   10:21:33.120 WARN  deliver main  ActiveCampaign asked us to slow down  code=RATE_LIMITED retryAfterMs=1000
 * The line has already been scrubbed (secrets, emails) before it gets here.
 */
const LEVELS: Record<number, [string, string]> = {
  10: ['TRACE', '90'],
  20: ['DEBUG', '36'],
  30: ['INFO ', '32'],
  40: ['WARN ', '33'],
  50: ['ERROR', '31'],
  60: ['FATAL', '35'],
};
const CONTEXT = ['module', 'connection', 'topic', 'partition'] as const;
const HIDDEN = new Set(['level', 'time', 'msg', 'service', 'pid', 'hostname', ...CONTEXT]);

export function prettyLine(json: string, color = false): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const paint = (code: string, text: string) => (color ? `\u001b[${code}m${text}\u001b[0m` : text);
  const [name, hue] = LEVELS[Number(record.level)] ?? [String(record.level).toUpperCase().padEnd(5), '0'];
  const time =
    typeof record.time === 'string'
      ? record.time.slice(11, 23)
      : new Date(Number(record.time ?? Date.now())).toISOString().slice(11, 23);
  const context = CONTEXT.map((k) => record[k])
    .filter((v) => v !== undefined)
    .join(' ');
  const fields = Object.entries(record)
    .filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`)
    .join(' ');
  const parts = [
    paint('2', time),
    paint(hue, name),
    context && paint('2', context),
    String(record.msg ?? ''),
    fields && paint('2', fields),
  ];
  return `${parts.filter(Boolean).join('  ')}\n`;
}

/** A pino destination that writes readable lines to `out` (stderr by default). */
export function prettyStream(out: { write(chunk: string): unknown }, color = false): DestinationStream {
  return { write: (line: string) => void out.write(prettyLine(line, color)) };
}
