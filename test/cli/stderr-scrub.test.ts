import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rawConfig, runToExit, writeConfig } from '../support/cli.js';

/**
 * The CLI's own last line on stderr (an error that ends a command) is collected with the logs: it is scrubbed
 * like a pino line. The case: an operator gives an email where `trace` wants a list id.
 */
process.env.KAFKA_BROKERS ??= '127.0.0.1:9'; // trace refuses the --list before it connects

test('the line that ends a command masks the emails its error carries', async () => {
  const config = writeConfig(rawConfig('t-stderr-scrub', 'http://127.0.0.1:9', ['vip']));
  const result = await runToExit([
    'trace',
    '--config',
    config,
    '--email',
    'bob@example.org',
    '--list',
    'ana.silva@example.com',
  ]);
  assert.equal(result.code, 2, result.stderr.join('\n'));
  const out = result.stderr.join('\n');
  assert.match(out, /^ac-list-sync: --list: no export maps list a\*\*\*@e\*\*\*\.com$/);
  assert.ok(!out.includes('ana.silva'), out);
});
