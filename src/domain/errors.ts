/**
 * One base error with a stable `code` and whether retrying can help. Each stage throws one of these; the
 * delivery layer's classify() turns any error into retry / dead-letter / pause decisions.
 */
export type Stage = 'decode' | 'validate' | 'map' | 'deliver' | 'confirm';

export class SyncError extends Error {
  readonly code: string;
  readonly retriable: boolean;
  constructor(code: string, message: string, retriable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.retriable = retriable;
  }
}

/** A setting is missing or wrong: start-up stops with this one-line message. */
export class ConfigError extends SyncError {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super('CONFIG_INVALID', `config ${key}: ${message}`, false);
  }
}

/** One record cannot be processed (bad bytes, bad fields, no mapping): dead-letter or skip it. */
export class RecordError extends SyncError {
  constructor(
    readonly stage: Stage,
    code: string,
    message: string,
  ) {
    super(code, message, false);
  }
}

/** ActiveCampaign answered; status and body say what happened. */
export class ApiError extends SyncError {
  constructor(
    code: string,
    message: string,
    retriable: boolean,
    readonly status: number,
    readonly retryAfterMs?: number,
  ) {
    super(code, message, retriable);
  }
}
