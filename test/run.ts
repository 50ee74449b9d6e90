/**
 * The test command: builds nothing (npm test runs tsc first), finds a real broker (test/support/broker.ts),
 * then runs every compiled test file (ours, and dist/packages/*'s) in one `node --test` process so the runner
 * prints one closing summary.
 * `--unit` runs only the tests that need no broker. Node 20's --test does not expand globs, hence this file.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBroker } from './support/broker.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const unitOnly = process.argv.includes('--unit');
const filters = process.argv.slice(2).filter((a) => !a.startsWith('--'));

function find(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return find(path);
    return name.endsWith('.test.js') ? [path] : [];
  });
}

/** The workspace packages' own tests (packages/<name>/test), compiled by the same tsc into dist/packages/. */
const packages = join(here, '..', 'packages');
const packageTests = existsSync(packages) ? find(packages) : [];
const needsBroker = (file: string) => relative(here, file).startsWith('integration');
let files = [...find(here), ...packageTests].sort();
if (unitOnly) files = files.filter((f) => !needsBroker(f));
if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)));

const log = (line: string) => process.stderr.write(`${line}\n`);
if (files.length === 0) {
  // node --test with no files would run every test file under the working directory instead.
  log(`no test file matches ${filters.join(' ')}`);
  process.exit(1);
}
const broker = files.some(needsBroker) ? await ensureBroker(log) : undefined;
const env = { ...process.env, ...(broker ? { KAFKA_BROKERS: broker.brokers } : {}) };
const code = await new Promise<number>((resolve) => {
  const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
    stdio: 'inherit',
    env,
  });
  child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
});
await broker?.stop();
process.exit(code);
