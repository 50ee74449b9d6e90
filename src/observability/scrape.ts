/**
 * A reader of the Prometheus text exposition format (what /metrics serves), for the `status` command and the
 * tests. Pure. Handles comments, labels with escaped values, +Inf/-Inf/NaN and optional timestamps.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const sample = parseLine(line);
    if (sample) samples.push(sample);
  }
  return samples;
}

function parseLine(line: string): Sample | undefined {
  const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
  if (!name) return undefined;
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ' || line[i] === ',') i++;
      if (line[i] === '}') {
        i++;
        break;
      }
      const key = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i))?.[0];
      if (!key || line[i + key.length] !== '=' || line[i + key.length + 1] !== '"') return undefined;
      i += key.length + 2;
      let value = '';
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\') {
          const next = line[i + 1];
          value += next === 'n' ? '\n' : (next ?? '');
          i += 2;
        } else value += line[i++];
      }
      if (line[i] !== '"') return undefined;
      i++;
      labels[key] = value;
    }
  }
  const [valueText] = line.slice(i).trim().split(/\s+/);
  const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
  if (valueText === undefined || (Number.isNaN(value) && valueText !== 'NaN')) return undefined;
  return { name, labels, value };
}

/** Sums the samples of `name` whose labels include `match`, grouped by the `by` labels (key: values joined by "/"). */
export function sumBy(
  samples: readonly Sample[],
  name: string,
  by: readonly string[] = [],
  match: Record<string, string | RegExp> = {},
): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== name) continue;
    if (
      !Object.entries(match).every(([k, v]) => (typeof v === 'string' ? s.labels[k] === v : v.test(s.labels[k] ?? '')))
    )
      continue;
    const key = by.map((l) => s.labels[l] ?? '').join('/');
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}

/** The total of `name` over matching samples (0 when there is none). */
export function total(samples: readonly Sample[], name: string, match: Record<string, string | RegExp> = {}): number {
  return sumBy(samples, name, [], match).get('') ?? 0;
}

/** The quantile q (0..1) of a histogram from its cumulative `_bucket` samples, interpolated within a bucket. */
export function histogramQuantile(
  samples: readonly Sample[],
  name: string,
  q: number,
  match: Record<string, string | RegExp> = {},
): number | undefined {
  const buckets = [...sumBy(samples, `${name}_bucket`, ['le'], match)]
    .map(([le, count]) => ({ le: le === '+Inf' ? Infinity : Number(le), count }))
    .sort((a, b) => a.le - b.le);
  const all = buckets[buckets.length - 1]?.count ?? 0;
  if (all === 0) return undefined;
  const rank = q * all;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (b.le === Infinity) return prevLe;
      const inBucket = b.count - prevCount;
      return inBucket > 0 ? prevLe + ((b.le - prevLe) * (rank - prevCount)) / inBucket : b.le;
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}
