import pino, { type DestinationStream, type Logger } from 'pino';
import { prettyStream } from './pretty.js';

export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * Paths redacted wherever they appear in a log call's fields. The line scrubber below is the second net: it
 * removes every registered secret value and masks every email, whatever field or message carries it.
 */
const REDACT = [
  'apiKey',
  '*.apiKey',
  'connections.*.apiKey',
  '*.connections.*.apiKey',
  'apiToken',
  '*.apiToken',
  'token',
  '*.token',
  'password',
  '*.password',
  'sasl.password',
  '*.sasl.password',
  '*.*.sasl.password',
  'authorization',
  '*.authorization',
  'headers["api-token"]',
  '*.headers["api-token"]',
  'headers.authorization',
  '*.headers.authorization',
];

/**
 * The root logger: JSON lines by default, readable lines on a terminal (format 'auto' picks readable when
 * stderr is a TTY and no destination is given). Secrets are redacted by path and scrubbed by value everywhere;
 * emails are masked everywhere unless log.showEmails is on.
 */
export function createLogger(level = 'info', destination?: DestinationStream, format: LogFormat = 'auto'): Logger {
  const pretty =
    format === 'pretty' || (format === 'auto' && destination === undefined && process.stderr.isTTY === true);
  const out = destination ?? (pretty ? undefined : pino.destination({ fd: 2, sync: false }));
  return pino(
    {
      level,
      base: { service: 'ac-list-sync' },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      hooks: { streamWrite: scrubLine },
    },
    pretty ? prettyStream(out ?? process.stderr, out === undefined && process.stderr.isTTY === true) : out!,
  );
}

let showEmails = false;
export function setShowEmails(show: boolean): void {
  showEmails = show;
}

/** "ana.silva@example.com" → "a***@e***.com", unless log.showEmails is on. */
export function maskEmail(email: string): string {
  if (showEmails) return email;
  const at = email.lastIndexOf('@');
  if (at < 0) return '***';
  const domain = email.slice(at + 1);
  const dot = domain.lastIndexOf('.');
  return `${email.slice(0, 1)}***@${domain.slice(0, 1)}***${dot >= 0 ? domain.slice(dot) : ''}`;
}

const secrets = new Set<string>();

/**
 * Remembers a secret (API token, SASL password) so that no log line ever carries it, whichever field or message
 * it ends up in. secretReader() registers every value it reads, including rotated ones.
 */
export function registerSecret(value: string): void {
  if (value.length < 6 || secrets.has(value)) return;
  secrets.add(value);
  const escaped = JSON.stringify(value).slice(1, -1);
  if (escaped !== value) secrets.add(escaped);
}

/**
 * Anything around an "@" between delimiters: whole addresses, and fragments such as the ones JSON.parse quotes
 * back from a broken record. Broad on purpose: masking "pino@10" costs nothing, leaking an address does.
 */
const EMAIL_LIKE = /[^\s"'<>()[\]\\,;:@{}]+@[^\s"'<>()[\]\\,;:@{}]+/gu;

/** Every log line passes here before it is written: secrets out, emails masked (unless showEmails). */
export function scrubLine(line: string): string {
  for (const secret of secrets) if (line.includes(secret)) line = line.split(secret).join('[redacted]');
  return showEmails ? line : line.replace(EMAIL_LIKE, maskEmail);
}

export type { Logger };
