import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Every measured part of the benchmark runs in a child process of its own (the raw consumer, the service, the
 * simulator, the producers), so process.cpuUsage() and the peak RSS of each belong to that part alone. The
 * parent talks to a child over the IPC channel of fork(): one `init`, then commands, each answered once.
 *
 *   child:  serveRole(async (init) => ({ commands: { stats: () => …, }, close: async () => … }))
 *   parent: const sim = await startRole<SimReady>('simulator', { … }); await sim.call('configure', patch);
 */
interface Request {
  id: number;
  cmd: string;
  arg?: unknown;
}
type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

export interface RoleBody {
  commands: Record<string, (arg: unknown) => unknown>;
  /** Called on `close` and when the parent goes away; the process exits after it. */
  close?: () => Promise<void>;
}

/** Child side: answers `init` with what `start` returned as `ready`, then the commands until `close`. */
export function serveRole(start: (init: unknown) => Promise<RoleBody & { ready?: unknown }>): void {
  let body: RoleBody | undefined;
  let closing: Promise<void> | undefined;
  const send = (reply: Reply) => process.send?.(reply);
  const close = (code: number) => {
    closing ??= (async () => {
      await body
        ?.close?.()
        .catch((err: unknown) => process.stderr.write(`bench child: close failed: ${String(err)}\n`));
      process.exit(code);
    })();
    return closing;
  };
  process.on('disconnect', () => void close(0));
  process.on('message', (raw) => {
    const req = raw as Request;
    void (async () => {
      try {
        if (req.cmd === 'init') {
          const started = await start(req.arg);
          body = started;
          send({ id: req.id, ok: true, value: started.ready ?? {} });
        } else if (req.cmd === 'close') {
          send({ id: req.id, ok: true, value: {} });
          await close(0);
        } else {
          const fn = body?.commands[req.cmd];
          if (!fn) throw new Error(`unknown command "${req.cmd}"`);
          send({ id: req.id, ok: true, value: await fn(req.arg) });
        }
      } catch (err) {
        send({ id: req.id, ok: false, error: (err as Error)?.stack ?? String(err) });
      }
    })();
  });
}

export interface Role<R> {
  readonly ready: R;
  readonly pid: number;
  call<T>(cmd: string, arg?: unknown): Promise<T>;
  /** Asks the child to close and waits for it to exit (killed after `graceMs`). Idempotent. */
  close(graceMs?: number): Promise<void>;
}

/** Parent side: forks dist/bench/roles/<name>.js (with these Node flags) and sends it `init`. */
export async function startRole<R>(name: string, init: unknown, nodeFlags: readonly string[] = []): Promise<Role<R>> {
  const file = fileURLToPath(new URL(`./roles/${name}.js`, import.meta.url));
  // BENCH_CPU_PROF=service,raw-consumer writes a V8 CPU profile of those roles to BENCH_CPU_PROF_DIR (default .).
  const profiled = (process.env.BENCH_CPU_PROF ?? '').split(',').includes(name);
  // --expose-gc: a role measures its heap after a full collection (bytes per unsettled event); nothing else calls gc().
  const execArgv = [
    '--expose-gc',
    ...(profiled ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR ?? '.'}`] : []),
    ...nodeFlags,
  ];
  const child: ChildProcess = fork(file, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
  let next = 1;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.on('message', (raw) => {
    const reply = raw as Reply;
    const w = waiting.get(reply.id);
    if (!w) return;
    waiting.delete(reply.id);
    if (reply.ok) w.resolve(reply.value);
    else w.reject(new Error(`bench ${name}: ${reply.error}`));
  });
  child.once('exit', (code, signal) => {
    exited = true;
    for (const w of waiting.values()) w.reject(new Error(`bench ${name} exited (${signal ?? code}) before answering`));
    waiting.clear();
  });
  const call = <T>(cmd: string, arg?: unknown): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (exited) return reject(new Error(`bench ${name} has exited`));
      const id = next++;
      waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, cmd, arg } satisfies Request);
    });
  let closing: Promise<void> | undefined;
  const close = (graceMs = 30_000) =>
    (closing ??= (async () => {
      if (exited) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await call('close').catch(() => undefined);
      await exit;
      clearTimeout(timer);
    })());
  try {
    const ready = await call<R>('init', init);
    return { ready, pid: child.pid!, call, close };
  } catch (err) {
    await close(2_000);
    throw err;
  }
}
