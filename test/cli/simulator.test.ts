import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/** Runs simulatorCommand in a child process, as the CLI entry would, and stops it with a signal. */
const MODULE = fileURLToPath(new URL('../../src/dev/cli/simulator.js', import.meta.url));
/** Generous: starting a node process on a loaded CI machine can take seconds. */
const STARTUP_MS = 30_000;
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function run(args: string[]) {
  const script = `import { simulatorCommand } from ${JSON.stringify(MODULE)}; process.exitCode = await simulatorCommand(process.argv.slice(1));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, '--', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  const line = (re: RegExp): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ${re} on stderr within ${STARTUP_MS} ms; got: ${stderr}`)),
        STARTUP_MS,
      );
      const check = (): void => {
        const m = re.exec(stderr);
        if (m) {
          clearTimeout(timer);
          child.stderr.off('data', check);
          resolve(m);
        }
      };
      child.stderr.on('data', check);
      check();
    });
  return { child, exited, line, stderr: () => stderr };
}

describe('simulator command', () => {
  it('starts with the given options, logs its URL and token, and exits 0 on SIGTERM', async () => {
    const { child, exited, line } = run([
      '--port',
      '0',
      '--token',
      'dev-token',
      '--time-scale',
      '2',
      '--no-limits',
      '--lists',
      '7,8',
    ]);
    const [, url] = await line(/listening on (http:\/\/\S+)\/api\/3 with Api-Token "dev-token"/);
    const state = (await (await fetch(`${url}/__sim/state`)).json()) as { lists: Record<string, unknown> };
    assert.deepEqual(Object.keys(state.lists), ['7', '8']);
    const lists = await fetch(`${url}/api/3/lists`, { headers: { 'api-token': 'dev-token' } });
    assert.equal(lists.status, 200);
    const config = (await (await fetch(`${url}/__sim/config`)).json()) as {
      timeScale: number;
      limits: { enabled: boolean };
    };
    assert.deepEqual([config.timeScale, config.limits.enabled], [2, false]);
    child.kill('SIGTERM');
    const [code] = await exited;
    assert.equal(code, 0);
    await line(/simulator stopped/);
  });

  it('exits 2 with the usage for bad arguments', async () => {
    const cases = [['--time-scale', 'fast'], ['--bogus'], ['--time-scale', '0']];
    await Promise.all(
      cases.map(async (args) => {
        const { exited, stderr } = run(args);
        const [code] = await exited;
        assert.equal(code, 2, `${args.join(' ')}: ${stderr()}`);
        assert.match(stderr(), /usage: simulator/);
      }),
    );
  });
});
