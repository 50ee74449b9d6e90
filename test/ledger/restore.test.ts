import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LedgerState } from '../../src/ledger/hash-index.js';
import { Ledger, type LedgerIo, type RestoreResume } from '../../src/ledger/ledger.js';
import { encodeLedgerValue, ledgerKey, type LedgerRecord } from '../../src/ledger/record.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { memoryLogger } from '../support/observability.js';

/**
 * Restores that finish (issue 14): restoreTimeoutMs detects a stall instead of bounding the whole read, a stalled
 * read resumes where it got, progress shows in a metric and a log line, and newest wins per key by occurredAt.
 */
const email = (i: number) => `c${i}@example.com`;
const value = (r: Partial<LedgerRecord>) =>
  Buffer.from(encodeLedgerValue({ op: 'add', occurredAt: 1_000, byService: false, sentAt: 0, confirmedAt: 0, ...r }));

interface Call {
  from: ReadonlyMap<number, number>;
}

/** A ledger topic of one partition read through `read`, which emits records as the test scripts. */
function world(
  read: (
    emit: (offset: number, k: string, v: Buffer) => void,
    signal: AbortSignal,
    resume: RestoreResume,
    call: number,
  ) => Promise<void>,
  restoreTimeoutMs: number,
) {
  const calls: Call[] = [];
  const io: LedgerIo = {
    restore: (_topic, _partitions, onRecord, signal, resume) => {
      calls.push({ from: new Map(resume!.from) });
      return read((offset, k, v) => onRecord(0, k, v, 0, offset), signal, resume!, calls.length);
    },
    write: () => Promise.resolve(),
  };
  const metrics = createMetrics();
  const { log, lines } = memoryLogger('info');
  const ledger = new Ledger(
    io,
    { restoreTimeoutMs, restoreProgressLogMs: 40, rebuild: new Set(), startedAt: 0, openWindowMs: 60_000 },
    metrics,
    log,
  );
  ledger.assign({ t: [0] });
  const logged = (msg: RegExp) =>
    lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => msg.test(String(l.msg)));
  return { ledger, calls, metrics, logged };
}

const count = async (metrics: Metrics, result: string) =>
  (await metrics.ledgerRestoreRecords.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Ledger restore', () => {
  it('a restore that takes several times restoreTimeoutMs to read completes, without starting over, and reports its progress', {
    timeout: 60_000,
  }, async () => {
    const records = 60;
    // Each record takes 15 ms: the read takes about 900 ms, six times the 150 ms stall limit.
    const w = world(async (emit, signal, resume) => {
      const start = resume.from.get(0) ?? 0;
      resume.onEnds(new Map([[0, records]]));
      for (let o = start; o < records; o++) {
        if (signal.aborted) throw signal.reason;
        await tick(15);
        emit(o, ledgerKey('main', '1', email(o)), value({}));
      }
    }, 150);
    await w.ledger.whenReady('t', 0);
    for (let o = 0; o < records; o++)
      assert.equal(w.ledger.lookup('t', 0, 'main', '1', email(o))?.state, LedgerState.Added, `entry ${o}`);
    assert.equal(w.calls[0]!.from.size, 0, 'the first read starts at the beginning');
    // However slow the machine, a read that was resumed never started over.
    for (const c of w.calls.slice(1))
      assert.ok((c.from.get(0) ?? 0) > 0, 'a resumed read starts where the last one got');
    assert.equal(await count(w.metrics, 'applied'), records);
    assert.equal((await w.metrics.ledgerRestoreRemaining.get()).values[0]?.value, 0);
    const progress = w.logged(/^Restoring the ledger; /);
    assert.ok(progress.length >= 2, `${progress.length} progress lines`);
    const remaining = progress.map((l) => Number(l.remainingOffsets));
    assert.ok(
      remaining[0]! > remaining.at(-1)! && remaining.at(-1)! > 0,
      `remaining offsets go down: ${remaining.join(', ')}`,
    );
    assert.equal(w.logged(/^Ledger partitions restored/)[0]?.records, records);
  });

  it('a read that stalls is abandoned after restoreTimeoutMs and resumed from the offset after the last one read, keeping the index', {
    timeout: 60_000,
  }, async () => {
    const w = world(async (emit, signal, resume, call) => {
      resume.onEnds(new Map([[0, 20]]));
      if (call === 1) {
        for (let o = 0; o < 10; o++) emit(o, ledgerKey('main', '1', email(o)), value({}));
        resume.onProgress(0, 10); // a transaction marker after them
        // Then nothing: a broker that stopped answering.
        await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
      }
      assert.equal(resume.from.get(0), 11, 'resumes after the marker');
      for (let o = 11; o < 20; o++) emit(o, ledgerKey('main', '1', email(o)), value({}));
    }, 100);
    await w.ledger.whenReady('t', 0);
    assert.equal(w.calls.length, 2);
    for (const o of [0, 9, 11, 19])
      assert.ok(w.ledger.lookup('t', 0, 'main', '1', email(o)), `entry ${o} (read before or after the stall)`);
    assert.equal(
      (await w.metrics.ledgerRestoreResumes.get()).values.find((v) => v.labels.reason === 'stalled')?.value,
      1,
    );
    const warned = w.logged(/^Restoring the ledger stalled/);
    assert.equal(warned.length, 1);
    assert.deepEqual(warned[0]!.resumeFrom, { 0: 11 });
  });

  it('keeps the newest record per key by occurredAt: an older one read later is ignored, an equal one replaces', async () => {
    const k = ledgerKey('main', '1', email(1));
    const j = ledgerKey('main', '1', email(2));
    const w = world(async (emit) => {
      emit(0, k, value({ op: 'add', occurredAt: 2_000 }));
      // Older, at a later offset: a late write of a partition's previous owner.
      emit(1, k, value({ op: 'remove', occurredAt: 1_000, byService: true }));
      emit(2, j, value({ op: 'add', occurredAt: 5_000 }));
      // Same time, later offset: the confirmation replacing its intent.
      emit(3, j, value({ op: 'remove', occurredAt: 5_000, byService: true }));
    }, 10_000);
    await w.ledger.whenReady('t', 0);
    assert.deepEqual(w.ledger.lookup('t', 0, 'main', '1', email(1)), {
      state: LedgerState.Added,
      occurredAt: 2_000,
      sentAt: 0,
    });
    assert.equal(w.ledger.lookup('t', 0, 'main', '1', email(2))?.state, LedgerState.RemovedByService);
    assert.equal(await count(w.metrics, 'older'), 1);
    assert.equal(await count(w.metrics, 'applied'), 3);
  });
});
