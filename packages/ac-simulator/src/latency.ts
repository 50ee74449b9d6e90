/**
 * Seeded randomness for import completion, so a drill with a heavy-tailed latency or stuck imports replays the
 * same way for the same seed. mulberry32: small, fast, good enough for simulation (not for cryptography).
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface LatencySettings {
  /** 'none': no extra time; 'lognormal': medianMs · e^(sigma·Z); 'pareto': scaleMs / U^(1/alpha) (≥ scaleMs). */
  distribution: 'none' | 'lognormal' | 'pareto';
  medianMs: number;
  sigma: number;
  scaleMs: number;
  alpha: number;
  /** Cap on one draw: a Pareto tail is unbounded. */
  maxMs: number;
}

/** One draw of the extra time an import spends `active`, in unscaled ms. */
export function drawLatency(s: LatencySettings, random: () => number): number {
  if (s.distribution === 'none') return 0;
  // 1 - random() is in (0, 1]: never log(0) or a division by 0.
  const u = 1 - random();
  if (s.distribution === 'pareto') return Math.min(s.maxMs, s.scaleMs / u ** (1 / s.alpha));
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return Math.min(s.maxMs, s.medianMs * Math.exp(s.sigma * z));
}
