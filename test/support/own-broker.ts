import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const script = fileURLToPath(new URL('../../../scripts/kafka-local.sh', import.meta.url));

/**
 * A broker of one test file's own (scripts/kafka-local.sh on `port`), for tests that stop it: the shared one must
 * never stop. The test runner runs one file at a time. Ports below Linux's ephemeral range (32768-60999): while
 * a broker is down the service keeps dialling it, and a connect whose source port happens to be the port it dials
 * connects to itself (TCP self-connect) and holds the port, so that the broker cannot bind it when it comes back.
 */
export interface OwnBroker {
  /** Starts it (or finds it running); its address. */
  start(): Promise<string>;
  /** Stops it: SIGTERM and a wait, or with `killed` SIGTERM then SIGKILL at once. */
  stop(killed?: boolean): Promise<void>;
  /** Whether anything accepts a connection on its port (refused: it is really down). */
  listening(): Promise<boolean>;
}

export function ownBroker(port: number): OwnBroker {
  const env = { ...process.env, KAFKA_LOCAL_PORT: String(port), KAFKA_HEAP_OPTS: '-Xmx384m -Xms128m' };
  const script_ = async (command: 'start' | 'stop', extra: NodeJS.ProcessEnv = {}): Promise<string> => {
    const { stdout } = await run('bash', [script, command], {
      env: { ...env, ...extra },
      timeout: 5 * 60_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout.trim().split('\n').pop()!.trim();
  };
  return {
    start: () => script_('start'),
    stop: async (killed = false) => void (await script_('stop', killed ? { KAFKA_STOP_TIMEOUT: '0' } : {})),
    listening: () =>
      new Promise((resolve) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      }),
  };
}
