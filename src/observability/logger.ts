import pino, { type Logger } from 'pino';

/**
 * The root logger: JSON lines (readable on a terminal when pino-pretty is installed and LOG_PRETTY=1). Secrets are
 * redacted by path everywhere; emails are masked by default (maskEmail) before they reach a log call.
 */
export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'ac-list-sync' },
      redact: {
        paths: ['apiKey', '*.apiKey', 'password', '*.password', 'sasl.password', 'headers["api-token"]', 'token', '*.token'],
        censor: '[redacted]',
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? pino.destination({ fd: 2, sync: false }),
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

export type { Logger };
