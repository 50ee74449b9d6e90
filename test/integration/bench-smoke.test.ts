import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { outcomeProblems, resultProblems, type BenchResults } from '../../bench/results.js';
import { brokers } from '../support/harness.js';

/**
 * The benchmark at smoke sizes, as CI runs it: it must complete against the real broker and write well-formed
 * results. No speed is judged (the machine is shared and noisy); only the shape of what was written, and that
 * each step's outcome was right (a wrong one also makes the benchmark exit 1).
 */
const script = fileURLToPath(new URL('../../bench/run.js', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
after(() => rmSync(out, { recursive: true, force: true }));

function runBench(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

test('npm run bench at smoke sizes completes and writes well-formed latest.json and latest.md', async () => {
  const { code, output } = await runBench(['--smoke', '--out', out], {
    ...process.env,
    KAFKA_BROKERS: brokers().join(','),
  });
  assert.equal(code, 0, `the benchmark exited ${code}:\n${output.slice(-3_000)}`);
  const results = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchResults;
  assert.deepEqual(resultProblems(results), []);
  assert.equal(results.smoke, true);
  assert.equal(results.pipeline.json.events, 20_000);
  assert.equal(results.multiList.listChanges, results.multiList.contacts * 3);
  assert.deepEqual(
    outcomeProblems(results),
    [],
    'every step left the membership its workload implies, with no dead letter',
  );
  const markdown = readFileSync(join(out, 'latest.md'), 'utf8');
  for (const heading of [
    '**1. Pipeline ceiling**',
    '**2. API ceiling**',
    '**3. Latency**',
    '**4. Memory**',
    '**5. Ledger restore**',
    '**6. Beyond the single-list ceiling**',
  ])
    assert.ok(markdown.includes(heading), `latest.md has ${heading}`);
  assert.ok(output.includes('**1. Pipeline ceiling**'), 'the table is printed too');
});

test('the benchmark refuses a bad size before touching Kafka, naming the flag', async () => {
  const { code, output } = await runBench(['--json-events', 'lots', '--out', out], {
    ...process.env,
    KAFKA_BROKERS: '127.0.0.1:1',
  });
  assert.equal(code, 2);
  assert.match(output, /--json-events must be a whole number/);
});
