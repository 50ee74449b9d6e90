import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
// Before kafkajs: this process installs the grouping as the service's entry points do.
import {
  groupMessagesPerPartition,
  installPartitionGrouping,
  kafkajsGroupMessagesPerPartition,
} from '../../src/kafka/partition-grouping.js';

const moduleUrl = new URL('../../src/kafka/partition-grouping.js', import.meta.url).href;

/** What a fresh Node process prints after running the module `script`. */
function runScript(script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('error', reject);
    proc.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`exit ${code}: ${out}`))));
  });
}

describe("kafkajs's producers group a batch per partition in one pass", () => {
  it('gives the groups kafkajs gives, in the same order, for random batches', () => {
    const kafkajs = kafkajsGroupMessagesPerPartition();
    assert.notEqual(kafkajs, groupMessagesPerPartition);
    let seed = 7;
    const random = (n: number) => (seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0) % n;
    for (let round = 0; round < 200; round++) {
      const partitions = 1 + random(6);
      const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId }));
      const messages = Array.from({ length: random(300) }, (_, i) => ({ key: `k${i}`, value: `v${i}` }));
      const to = new Map(messages.map((m) => [m, random(partitions)]));
      const partitioner = ({ message }: { message: unknown }) => to.get(message as (typeof messages)[number])!;
      const args = { topic: 't', partitionMetadata, messages, partitioner };
      const ours = groupMessagesPerPartition(args);
      assert.deepEqual(ours, kafkajs(args));
      assert.deepEqual(Object.keys(ours), Object.keys(kafkajs(args)), 'the partitions in the same order');
    }
  });

  it('a topic without partitions gives no groups, and the partitioner is not asked', () => {
    const partitioner = () => assert.fail('asked');
    assert.deepEqual(groupMessagesPerPartition({ topic: 't', partitionMetadata: [], messages: [1], partitioner }), {});
  });

  it('installs when imported before kafkajs loads, and not after', async () => {
    assert.equal(installPartitionGrouping(), true, 'this process imported it first');
    const first = await runScript(
      `const m = await import(${JSON.stringify(moduleUrl)}); await import('kafkajs'); ` +
        `const { createRequire } = await import('node:module'); const require = createRequire(import.meta.url); ` +
        `console.log(m.installPartitionGrouping(), ` +
        `require('kafkajs/src/producer/groupMessagesPerPartition.js') === m.groupMessagesPerPartition)`,
    );
    assert.equal(first, 'true true');
    const late = await runScript(
      `await import('kafkajs'); const m = await import(${JSON.stringify(moduleUrl)}); ` +
        `console.log(m.installPartitionGrouping())`,
    );
    assert.equal(late, 'false', 'kafkajs had captured its own: installing now would change nothing');
  });
});
