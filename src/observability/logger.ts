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
  return showEmails ? email : maskAddress(email);
}

/** Masks around the last "@", or the last "%40" (an address URL-encoded, as in ?email=), whichever comes later. */
function maskAddress(text: string): string {
  const at = text.lastIndexOf('@');
  const encoded = text.lastIndexOf('%40');
  const [i, sep] = encoded > at ? [encoded, '%40'] : [at, '@'];
  if (i < 0) return '***';
  const domain = text.slice(i + sep.length);
  const dot = domain.lastIndexOf('.');
  return `${i > 0 ? text.slice(0, 1) : ''}***${sep}${domain.slice(0, 1)}***${dot >= 0 ? domain.slice(dot) : ''}`;
}

const secrets = new Set<string>();

/**
 * Remembers a secret (API token, SASL password) so that no log line ever carries it, whichever field or message
 * it ends up in, as it is, JSON-escaped or URL-encoded. secretReader() registers every value it reads, including
 * rotated ones.
 */
export function registerSecret(value: string): void {
  if (value.length < 6 || secrets.has(value)) return;
  secrets.add(value);
  const escaped = JSON.stringify(value).slice(1, -1);
  if (escaped !== value) secrets.add(escaped);
  let encoded = value;
  try {
    encoded = encodeURIComponent(value);
  } catch {
    // a lone surrogate has no URL-encoded form
  }
  if (encoded !== value) secrets.add(encoded);
}

/**
 * A JSON escape (kept whole: masking never cuts one, so the line stays valid JSON), or a run of text between
 * delimiters (a URL's "/", "?", "&" and "=" among them, so a path keeps its shape). A run holding an "@" (or
 * "%40") is masked: whole addresses, URL-encoded ones, and fragments such as
 * the ones JSON.parse quotes back from a broken record ("ana.silva@"). Broad on purpose: masking "pino@10" costs
 * nothing, leaking an address does. Each character is looked at once, so a 1 MB line costs no more than its length
 * (a run followed by backtracking to an "@" was quadratic: minutes for a poison record's 1 MB attribute name).
 */
const TOKEN = /\\(?:u[0-9a-fA-F]{4}|[\s\S])|[^\s"'<>()[\]\\,;:{}/?&=]+/gu;
const HAS_AT = /@|%40/;

function maskToken(token: string): string {
  if (token.charCodeAt(0) === 92 /* \\ */ || !HAS_AT.test(token) || /^(?:@|%40)+$/.test(token)) return token;
  return maskAddress(token);
}

/**
 * Every email in a text masked, whatever log.showEmails says: for what leaves the process other than logs (a dead
 * letter's reason quoting an ActiveCampaign answer).
 */
export function maskEmailsIn(text: string): string {
  return HAS_AT.test(text) ? text.replace(TOKEN, maskToken) : text;
}

/** Every log line passes here before it is written: secrets out, emails masked (unless showEmails). */
export function scrubLine(line: string): string {
  for (const secret of secrets) if (line.includes(secret)) line = line.split(secret).join('[redacted]');
  return showEmails || !HAS_AT.test(line) ? line : line.replace(TOKEN, maskToken);
}

export type { Logger };
