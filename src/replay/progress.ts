import type { Progress } from './plan.js';

/**
 * Progress of a bounded run: events done of total, rate and ETA. The formatting and the rate are pure; the
 * reporter at the bottom writes to a stream: a redrawn bar on a terminal, a plain line every interval otherwise.
 */
export interface ProgressView {
  done: number;
  total: number;
  /** Events per second over the recent window; 0 before there are two samples. */
  rate: number;
  /** Seconds to go at that rate; undefined while the rate is unknown or 0. */
  etaSeconds: number | undefined;
  elapsedSeconds: number;
}

/** Events per second over the last `windowMs` of samples. */
export class RateMeter {
  private readonly samples: { at: number; done: number }[] = [];

  constructor(private readonly windowMs = 10_000) {}

  push(at: number, done: number): void {
    this.samples.push({ at, done });
    while (this.samples.length > 2 && this.samples[1]!.at <= at - this.windowMs) this.samples.shift();
  }

  get rate(): number {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.at <= first.at) return 0;
    return Math.max(0, ((last.done - first.done) * 1000) / (last.at - first.at));
  }
}

export function viewOf(p: Pick<Progress, 'done' | 'total'>, rate: number, elapsedSeconds: number): ProgressView {
  const left = Math.max(0, p.total - p.done);
  return {
    done: p.done,
    total: p.total,
    rate,
    etaSeconds: left === 0 ? 0 : rate > 0 ? left / rate : undefined,
    elapsedSeconds,
  };
}

const count = (n: number) => Math.round(n).toLocaleString('en-US');
const percent = (v: ProgressView) => (v.total === 0 ? 100 : (100 * v.done) / v.total).toFixed(1);

/** 75 → "1:15", 3725 → "1:02:05". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

const eta = (v: ProgressView) => (v.etaSeconds === undefined ? 'ETA unknown' : `ETA ${formatDuration(v.etaSeconds)}`);

/** The line written at a fixed interval when the output is not a terminal (logs, CI). */
export function progressLine(v: ProgressView): string {
  return (
    `replay progress: ${count(v.done)} of ${count(v.total)} events (${percent(v)}%), ${count(v.rate)} ` +
    `events/s, ${eta(v)}, elapsed ${formatDuration(v.elapsedSeconds)}`
  );
}

/** The bar redrawn in place on a terminal. */
export function progressBar(v: ProgressView, width = 30): string {
  const filled = v.total === 0 ? width : Math.min(width, Math.floor((width * v.done) / v.total));
  return (
    `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${percent(v).padStart(5)}%  ` +
    `${count(v.done)}/${count(v.total)} events  ${count(v.rate)}/s  ${eta(v)}`
  );
}

export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ProgressReporter {
  /** Takes a sample now (call it often; it writes only when due). */
  update(p: Pick<Progress, 'done' | 'total'>): void;
  /** Writes the final state and ends the bar's line. */
  finish(p: Pick<Progress, 'done' | 'total'>): void;
}

/**
 * On a terminal: the bar, redrawn at most every `redrawMs`. Otherwise: one progressLine every `intervalMs`
 * (the first one an interval after start), and one more at finish.
 */
export function progressReporter(
  out: ProgressOutput,
  opts: { intervalMs: number; redrawMs?: number; now?: () => number },
): ProgressReporter {
  const now = opts.now ?? Date.now;
  const tty = out.isTTY === true;
  const startedAt = now();
  const meter = new RateMeter(Math.max(10_000, opts.intervalMs * 2));
  const every = tty ? (opts.redrawMs ?? 250) : opts.intervalMs;
  let nextAt = startedAt + every;
  const render = (p: Pick<Progress, 'done' | 'total'>, at: number) => viewOf(p, meter.rate, (at - startedAt) / 1000);
  return {
    update(p) {
      const at = now();
      meter.push(at, p.done);
      if (at < nextAt) return;
      nextAt = at + every;
      const v = render(p, at);
      out.write(tty ? `\r\u001b[2K${progressBar(v)}` : `${progressLine(v)}\n`);
    },
    finish(p) {
      const at = now();
      meter.push(at, p.done);
      const v = render(p, at);
      out.write(tty ? `\r\u001b[2K${progressBar(v)}\n` : `${progressLine(v)}\n`);
    },
  };
}
