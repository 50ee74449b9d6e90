import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { isXerial } from '../../src/kafka/codecs.js';
import { readToEnd } from '../../src/kafka/read-to-end.js';
import { membershipDiff, sampleEvents } from '../../src/dev/sample/events.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, requireTool } from '../deploy/tools.js';
import { runToExit, waitForLog } from '../support/cli.js';
import { brokers, kafka } from '../support/harness.js';
import { world } from '../support/world.js';

/**
 * What real producers write: librdkafka (kcat) writes one topic whose partitions each use one codec. The live
 * sync, `trace`, `dlq inspect` and `replay`, each the CLI as an operator runs it, read every partition.
 */
const { CompressionCodecs, CompressionTypes } = kafkajs;
const segments = ['vip', 'newsletter', 'churn'];
const CODECS = ['lz4', 'zstd', 'snappy', 'gzip', 'none'] as const;
type Codec = (typeof CODECS)[number];
const w = world({ segments, simulator: { timeScale: 5 } });

/** Writes `lines` (key TAB value) to one partition with librdkafka, batched and compressed with `codec`. */
function kcatProduce(kcat: string, topic: string, partition: number, codec: Codec, lines: string[]): void {
  const args = [
    '-P',
    '-b',
    brokers().join(','),
    '-t',
    topic,
    '-p',
    String(partition),
    '-K',
    '\t',
    '-X',
    `compression.codec=${codec}`,
    '-X',
    'linger.ms=50',
  ];
  const r = spawnSync(kcat, args, { input: `${lines.join('\n')}\n`, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `kcat ${args.join(' ')}:\n${r.stderr}`);
}

/**
 * Reads the whole topic in this process, noting which codec decompressed the batch holding each partition's
 * marker (and, for snappy, whether the batch had the xerial framing).
 */
async function codecsByMarker(
  topic: string,
  markers: string[],
): Promise<{ records: Map<string, string>; seen: Map<string, Set<string>> }> {
  const seen = new Map<string, Set<string>>(markers.map((m) => [m, new Set()]));
  type Compressed = keyof typeof CompressionCodecs;
  const types: [string, Compressed][] = [
    ['gzip', CompressionTypes.GZIP],
    ['snappy', CompressionTypes.Snappy],
    ['lz4', CompressionTypes.LZ4],
    ['zstd', CompressionTypes.ZSTD],
  ];
  const saved = new Map<Compressed, () => { compress: unknown; decompress: (b: Buffer) => Promise<Buffer> }>();
  for (const [name, type] of types) {
    const real = CompressionCodecs[type];
    saved.set(type, real);
    CompressionCodecs[type] = () => {
      const codec = real();
      return {
        ...codec,
        decompress: async (b: Buffer) => {
          const out = await codec.decompress(b);
          const text = out.toString('latin1');
          for (const m of markers)
            if (text.includes(m)) seen.get(m)!.add(name === 'snappy' && isXerial(b) ? 'snappy (xerial)' : name);
          return out;
        },
      };
    };
  }
  const records = new Map<string, string>();
  try {
    await readToEnd(
      kafka(),
      w.admin,
      topic,
      (r) => void records.set(`${r.partition}@${r.offset}`, `${r.key?.toString()}\t${r.value?.toString()}`),
      { groupPrefix: `${topic}-codecs` },
    );
  } finally {
    for (const [type, real] of saved) CompressionCodecs[type] = real;
  }
  return { records, seen };
}

test('a librdkafka producer writes partitions in lz4, zstd, snappy, gzip and none: the sync, trace, dlq inspect and replay read them all', async (t) => {
  const kcat = requireTool(t, 'kcat');
  if (!kcat) return;
  const topic = await w.topic('codecs', CODECS.length);

  // Each contact's events go to one partition (chosen by first appearance), so per-contact order holds.
  const expected = new Map<string, Map<string, 'add' | 'remove'>>();
  const perPartition: string[][] = CODECS.map(() => []);
  const kinds: Set<string>[] = CODECS.map(() => new Set());
  const partitionOf = new Map<string, number>();
  const emailIn = new Map<number, string>();
  const options = {
    events: 2_000,
    profiles: 400,
    segments,
    removeRatio: 0.3,
    reentry: false,
    seed: 16,
    start: Date.parse('2026-11-28T10:00:00Z'),
  };
  for (const e of sampleEvents(options, expected)) {
    if (!partitionOf.has(e.key)) partitionOf.set(e.key, partitionOf.size % CODECS.length);
    const p = partitionOf.get(e.key)!;
    perPartition[p]!.push(`${e.key}\t${JSON.stringify(e.value)}`);
    kinds[p]!.add(`${e.value.op} ${e.value.segmentId}`);
    emailIn.set(p, e.value.profile.email);
  }
  // In every partition: a marker event of a segment no export maps (skipped), and a record that is not JSON.
  const markers = CODECS.map((codec, p) => `codec-check-${codec}-p${p}`);
  CODECS.forEach((_, p) => {
    const unmapped = {
      eventId: markers[p],
      occurredAt: '2026-11-28T09:00:00Z',
      segmentId: 'not-exported',
      op: 'add',
      profile: { id: markers[p], email: `${markers[p]}@example.com` },
    };
    perPartition[p]!.unshift(`${markers[p]}\t${JSON.stringify(unmapped)}`);
    perPartition[p]!.push(`bad-json-p${p}\t{"eventId":"bad-json-p${p}",`);
  });
  for (const [p, k] of kinds.entries())
    assert.equal(
      k.size,
      segments.length * 2,
      `partition ${p} has adds and removes of every segment: ${[...k].join(', ')}`,
    );
  CODECS.forEach((codec, p) => {
    kcatProduce(kcat, topic, p, codec, perPartition[p]!);
  });
  const total = perPartition.reduce((n, lines) => n + lines.length, 0);

  // The records really are compressed as configured: each marker came out of its own codec, the uncompressed one out of none.
  const { records, seen } = await codecsByMarker(topic, markers);
  assert.equal(records.size, total);
  CODECS.forEach((codec, p) => {
    assert.deepEqual([...seen.get(markers[p]!)!], codec === 'none' ? [] : [codec], `partition ${p} is ${codec}`);
  });

  const file = w.configFile(topic, {
    connections: w.connections({ replayShare: 0.5 }),
    log: { level: 'info' },
  });
  const service = w.cli(['run', '--config', file]);
  await waitForLog(service, 'The sync is running');
  await w.membership(expected);
  await w.committed(w.config(topic), 'committed offsets to reach the end of every partition');
  service.proc.kill('SIGTERM');
  assert.deepEqual(await service.exited, { code: 0, signal: null });
  assert.ok(!service.logged('crashed'), 'no consumer crash');
  await service.kill();
  assert.deepEqual(
    membershipDiff(
      expected,
      (s) => String(segments.indexOf(s) + 1),
      (id) => w.sim.snapshot().lists[id]?.members ?? {},
    ),
    [],
  );

  // dlq inspect: the dead-letter topic, written by the service (compressed by kafka.compression), holds one per partition.
  const inspect = await runToExit(['dlq', 'inspect', '--config', file], 60_000);
  assert.equal(inspect.code, 0, inspect.stderr.join('\n'));
  assert.match(
    inspect.stdout.join('\n'),
    new RegExp(`: ${CODECS.length} dead letters\\n  decode/NOT_JSON +${CODECS.length}`),
  );

  // trace: scans every partition of the source topic, the ledger topic and the dead-letter topic.
  const email = emailIn.get(CODECS.indexOf('zstd'))!;
  const trace = await runToExit(['trace', '--email', email, '--config', file], 60_000);
  assert.equal(trace.code, 0, trace.stderr.join('\n'));
  const traced = trace.stdout.join('\n');
  assert.match(
    traced,
    new RegExp(`\\(${topic}/${CODECS.indexOf('zstd')}@\\d+\\)`),
    `events of ${email} found in the zstd partition:\n${traced}`,
  );
  assert.match(
    traced,
    /ledger: (subscribed|unsubscribed)/,
    `the ledger (written compressed) holds the contact:\n${traced}`,
  );

  // replay: a bounded run over every partition from the beginning; exit 4, as the records that are not JSON were dead-lettered.
  const replay = await runToExit(['replay', '--config', file, '--from', 'earliest'], 120_000);
  const summary = replay.stdout.join('\n');
  assert.equal(replay.code, 4, `${summary}\n${replay.stderr.slice(-5).join('\n')}`);
  const n = total.toLocaleString('en-US');
  assert.match(summary, new RegExp(`Events: +${n} consumed of ${n} offsets in range`));
});

/** The Kafka jars scripts/kafka-local.sh keeps (the broker's classpath holds the Java client and its codecs). */
function kafkaLibs(): string | undefined {
  const dir = join(
    process.env.AC_CACHE_DIR ?? join(repoRoot, '.cache'),
    'kafka',
    process.env.KAFKA_VERSION ?? '4.1.2',
    'libs',
  );
  return existsSync(dir) ? dir : undefined;
}

test("the Java client's snappy (xerial framing), lz4, zstd and gzip are read back as written", async (t) => {
  const java = requireTool(t, 'java');
  const libs = kafkaLibs();
  if (!java) return;
  if (!libs) {
    // CI starts its broker with scripts/kafka-local.sh, which fetches these jars.
    if (process.env.CI === 'true')
      throw new Error('no Kafka jars in the cache of scripts/kafka-local.sh; CI=true, so this is a failure');
    return t.skip('no Kafka jars in the cache of scripts/kafka-local.sh (AC_CACHE_DIR); skipped outside CI');
  }
  const codecs = ['snappy', 'lz4', 'zstd', 'gzip'];
  const topic = await w.topic('codecs-java', codecs.length);
  const markers = codecs.map((codec, p) => `java-${codec}-p${p}`);
  const lines = codecs.flatMap((codec, p) =>
    Array.from(
      { length: 300 },
      (_, i) =>
        `${codec}\t${p}\t${i === 0 ? markers[p] : `p-${p}-${i}`}\t${JSON.stringify({ eventId: `j-${p}-${i}`, segmentId: 'vip', op: i % 4 ? 'add' : 'remove', profile: { email: `java${p}.${i}@example.com` } })}`,
    ),
  );
  const r = spawnSync(
    java,
    [
      '-cp',
      join(libs, '*'),
      join(repoRoot, 'test', 'support', 'java', 'CompressedProducer.java'),
      brokers().join(','),
      topic,
    ],
    { input: `${lines.join('\n')}\n`, encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(r.status, 0, `the Java producer:\n${r.stderr}`);

  const { records, seen } = await codecsByMarker(topic, markers);
  codecs.forEach((codec, p) => {
    assert.deepEqual(
      [...seen.get(markers[p]!)!],
      [codec === 'snappy' ? 'snappy (xerial)' : codec],
      `partition ${p} is ${codec}`,
    );
  });
  const written = new Set(lines.map((l) => l.split('\t').slice(2).join('\t')));
  assert.equal(records.size, lines.length);
  for (const record of records.values()) assert.ok(written.has(record), `read back as written: ${record.slice(0, 80)}`);
});
