/**
 * What each child process reports about itself, and the few statistics the benchmark prints. Pure apart from
 * reading the process's own counters.
 */
export interface Usage {
  /** User + system CPU seconds since the process started. */
  cpuSeconds: number;
  rssMb: number;
  /** Peak resident set size of this process so far (getrusage maxrss). */
  peakRssMb: number;
}

export function usage(): Usage {
  const cpu = process.cpuUsage();
  return {
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    rssMb: process.memoryUsage.rss() / 1_048_576,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

/** CPU seconds (user + system) this process spent since `start`. */
export function cpuSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1e6;
}

/** Nearest-rank percentile of ascending `sorted` (q in 0..1); NaN when empty. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

export interface Distribution {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

export const round = (n: number, digits = 2): number => (Number.isFinite(n) ? Number(n.toFixed(digits)) : n);
