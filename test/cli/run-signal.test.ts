import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCli } from '../support/cli.js';

/**
 * `run` listens for SIGTERM before start-up ends. In a container node is PID 1, which ignores signals it has no
 * handler for; start-up can wait a long time for an account or Kafka, and a stop must not hang until SIGKILL.
 */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const started: { kill(): Promise<void> }[] = [];
after(async () => {
  for (const p of started) await p.kill();
});

test('SIGTERM while start-up waits for an unreachable account exits 0 promptly, with a log line saying so', async () => {
  const file = join(tmpdir(), `run-signal-${process.pid}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      kafka: { brokers: ['127.0.0.1:1'], topics: ['t'] },
      connections: {
        main: { apiUrl: `http://127.0.0.1:${await closedPort()}`, apiKey: { value: 'k' }, privacyAcknowledged: true },
      },
      exports: [{ name: 'e', segmentId: 's', connection: 'main', listId: '1' }],
      http: { host: '127.0.0.1', port: 0 },
      log: { format: 'json' },
    }),
  );
  const cli = runCli(['run', '--config', file]);
  started.push(cli);
  const deadline = Date.now() + 20_000;
  while (!cli.logged('not reachable yet') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.ok(
    cli.logged('not reachable yet'),
    `start-up should be waiting for the account; stderr: ${cli.stderr.join('\n')}`,
  );
  cli.proc.kill('SIGTERM');
  const { code, signal } = await cli.exited;
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, 'a handled SIGTERM, not death by signal');
  assert.ok(cli.logged('Stopping during start-up'));
});
