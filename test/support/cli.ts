import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually } from './harness.js';

/** The config file builder is harness.ts's (the one builder); re-exported for the CLI tests. */
export { rawConfig } from './harness.js';

/** The compiled CLI, run as a child process the way an operator runs it. */
export const CLI = fileURLToPath(new URL('../../src/cli/index.js', import.meta.url));

export interface CliProcess {
  readonly proc: ChildProcess;
  readonly stdout: string[];
  readonly stderr: string[];
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Whether stderr holds a line containing `text`. */
  logged(text: string): boolean;
  /** SIGKILL if still running; resolves once it is gone. */
  kill(): Promise<void>;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const proc = spawn(process.execPath, [CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const collect = (into: string[]) => {
    let rest = '';
    return (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop() ?? '';
      into.push(...lines);
    };
  };
  proc.stdout!.on('data', collect(stdout));
  proc.stderr!.on('data', collect(stderr));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  let done = false;
  void exited.then(() => (done = true));
  return {
    proc,
    stdout,
    stderr,
    exited,
    logged: (text) => stderr.some((l) => l.includes(text)),
    async kill() {
      if (!done) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** Runs the CLI to its end (killed after `timeoutMs`): exit code and the output lines (the last empty one dropped). */
export async function runToExit(
  args: string[],
  timeoutMs = 30_000,
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string[]; stderr: string[] }> {
  const child = runCli(args, env);
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), timeoutMs);
  const { code } = await child.exited;
  clearTimeout(timer);
  // Give the pipes a moment to deliver what was written just before exit.
  await new Promise((r) => setImmediate(r));
  return { code, stdout: child.stdout.filter((l) => l !== ''), stderr: child.stderr.filter((l) => l !== '') };
}

/** Writes a config file (any JSON value, valid or not) to a fresh temporary folder; returns its path. */
export function writeConfig(value: unknown, name = 'config.json'): string {
  const dir = mkdtempSync(join(tmpdir(), 'ac-list-sync-test-'));
  const file = join(dir, name);
  writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  return file;
}

/** Waits until the child logged a line containing `text` (or exited, which fails). */
export async function waitForLog(child: CliProcess, text: string, timeoutMs = 60_000): Promise<void> {
  let exited = false;
  void child.exited.then(() => (exited = true));
  await eventually(
    () => {
      if (exited && !child.logged(text))
        throw new Error(`the process exited before logging "${text}":\n${child.stderr.slice(-10).join('\n')}`);
      return child.logged(text);
    },
    `the process to log "${text}"`,
    timeoutMs,
    100,
  );
}
