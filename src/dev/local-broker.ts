import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const script = fileURLToPath(new URL('../../../scripts/kafka-local.sh', import.meta.url));

/**
 * The project's local broker (scripts/kafka-local.sh): Apache Kafka from Maven Central jars on 127.0.0.1.
 * start() reports whether this call started it, so the caller stops only what it started.
 */
export async function startLocalBroker(): Promise<{ brokers: string; startedHere: boolean }> {
  const before = await run('bash', [script, 'status']).then(
    () => true,
    () => false,
  );
  const { stdout } = await run('bash', [script, 'start'], { maxBuffer: 16 * 1024 * 1024, timeout: 15 * 60_000 });
  const brokers = stdout.trim().split('\n').pop()!.trim();
  return { brokers, startedHere: !before };
}

export async function stopLocalBroker(): Promise<void> {
  await run('bash', [script, 'stop']);
}
