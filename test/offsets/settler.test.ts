import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { createMetrics } from '../../src/observability/metrics.js';
import { Ownership } from '../../src/offsets/ownership.js';
import { Settler, type Share } from '../../src/offsets/settler.js';

function setup() {
  const ownership = new Ownership();
  const settler = new Settler(ownership, createMetrics(), pino({ level: 'silent' }));
  const assign = (partitions: number[]) => {
    ownership.assign({ t: partitions });
    settler.assign();
    return ownership.generation;
  };
  const share = (offset: number, n = 0, partition = 0, generation = ownership.generation): Share => ({
    message: { topic: 't', partition, offset },
    generation,
    share: n,
  });
  return { ownership, settler, assign, share };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('Settler', () => {
  // Issue 12, defect 2: the tracker forgot an offset before commitOffsets succeeded, so a failed commit was never
  // retried (duplicates after a restart, and a replay waiting for ever on the committed offset).
  it('hands a failed commit out again while the generation holds', () => {
    const { settler, assign, share } = setup();
    const gen = assign([0]);
    settler.begin('t', 0, 0, 1);
    settler.end(share(0), 'delivered');
    const first = settler.commits();
    assert.deepEqual(first, [{ topic: 't', partition: 0, offset: '1' }]);
    settler.committed(first, gen, false);
    assert.deepEqual(settler.commits(), first, 'the same offset again');
    settler.committed(first, gen, true);
    assert.deepEqual(settler.commits(), [], 'once it succeeded, nothing new');
  });

  it('never hands out a failed commit for a partition lost since', () => {
    const { settler, assign, share } = setup();
    const gen = assign([0, 1]);
    for (const p of [0, 1]) {
      settler.begin('t', p, 0, 1);
      settler.end(share(0, 0, p), 'delivered');
    }
    const offsets = settler.commits();
    assert.equal(offsets.length, 2);
    assign([1]);
    settler.committed(offsets, gen, false);
    assert.deepEqual(
      settler.commits(),
      [],
      'a new generation starts from the committed offsets; partition 0 is not ours',
    );
  });

  it('ends each share once: a second report of one export cannot stand in for another export', () => {
    const { settler, assign, share } = setup();
    assign([0]);
    settler.begin('t', 0, 0, 2);
    settler.end(share(0, 0), 'delivered');
    settler.end(share(0, 0), 'delivered');
    assert.deepEqual(settler.commits(), [], 'share 1 is still open');
    assert.deepEqual(settler.unsettled(), [{ topic: 't', partition: 0, offset: 0, open: 1 }]);
    settler.end(share(0, 1), 'dead_lettered');
    assert.deepEqual(settler.commits(), [{ topic: 't', partition: 0, offset: '1' }]);
    assert.deepEqual(settler.totals, { consumed: 1, delivered: 1, deadLettered: 1, skipped: 0 });
  });

  it('a share waiting on a durable write ends when it is acknowledged, and never when it fails', async () => {
    const { settler, assign, share } = setup();
    assign([0]);
    settler.begin('t', 0, 0, 1);
    settler.begin('t', 0, 1, 1);
    let ack!: () => void;
    settler.end(share(0), 'dead_lettered', new Promise<void>((r) => (ack = r)));
    settler.end(share(1), 'delivered', Promise.reject(new Error('the ledger is closed')));
    await tick();
    assert.deepEqual(settler.commits(), [], 'nothing before the acknowledgement');
    assert.equal(settler.awaitingWrites, 1);
    ack();
    await tick();
    assert.deepEqual(
      settler.commits(),
      [{ topic: 't', partition: 0, offset: '1' }],
      'offset 1 waits: its write failed',
    );
    assert.deepEqual(settler.unsettled(), [{ topic: 't', partition: 0, offset: 1, open: 1 }]);
  });

  it('ignores shares of an earlier generation', () => {
    const { settler, assign, share } = setup();
    const old = assign([0]);
    settler.begin('t', 0, 0, 1);
    assign([0]);
    settler.begin('t', 0, 0, 1);
    settler.end(share(0, 0, 0, old), 'delivered');
    assert.deepEqual(settler.commits(), []);
    assert.equal(settler.unsettled().length, 1);
  });
});
