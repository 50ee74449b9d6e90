import { appendFileSync } from 'node:fs';

/**
 * Named crash points: the steps where a SIGKILL leaves durable state half-written (issue 13). The product code
 * calls `crashPoint(name)` at each; the drills arm them through the environment and nothing else, so a
 * production process never kills itself:
 *
 *   AC_LIST_SYNC_CRASH_AT="import-accepted:3,intent-written:1"   SIGKILL this process the 3rd time the import
 *                                                                 point is reached (or the 1st intent, if first)
 *   AC_LIST_SYNC_CRASH_REPORT=/tmp/reached.txt                    append one line `<name>` per reach
 *
 * The report is appended synchronously before the kill, so it survives it: the drill learns which point fired
 * and how often each was reached, which in-process counters cannot tell it after a SIGKILL.
 * With neither variable set, a crash point costs one boolean check and counts nothing.
 */
export const CRASH_POINTS = [
  /** A write-ahead intent (an unsubscribe about to be sent) is acknowledged by the broker. */
  'intent-written',
  /** ActiveCampaign accepted a bulk import; it is not confirmed yet. */
  'import-accepted',
  /** ActiveCampaign confirmed a change; its ledger record is not written yet. */
  'confirmed-before-ledger',
  /** A dead letter is acknowledged by the broker; the offset behind it is not committed yet. */
  'dead-letter-acked-before-commit',
  /** A ledger restore has read part of its partitions. */
  'ledger-restore-mid',
] as const;

export type CrashPointName = (typeof CRASH_POINTS)[number];

export const CRASH_AT_ENV = 'AC_LIST_SYNC_CRASH_AT';
export const CRASH_REPORT_ENV = 'AC_LIST_SYNC_CRASH_REPORT';

/** Crash point → the reach (1-based, counted in this process) at which the process kills itself. */
export type CrashPlan = ReadonlyMap<CrashPointName, number>;

const isName = (s: string): s is CrashPointName => (CRASH_POINTS as readonly string[]).includes(s);

/**
 * Parses AC_LIST_SYNC_CRASH_AT ("name:n[,name:n…]"). Throws an Error naming the bad entry and the fix: a typo
 * in a drill must stop it, not leave it waiting for a kill that never comes. A name listed twice keeps its
 * smallest n (the process is gone at the first).
 */
export function parseCrashPlan(text: string | undefined): CrashPlan {
  const plan = new Map<CrashPointName, number>();
  if (text === undefined || text.trim() === '') return plan;
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    const match = /^([a-z-]+):([1-9][0-9]*)$/.exec(entry);
    if (!match) throw new Error(`${CRASH_AT_ENV}: "${entry}" is not "<name>:<n>" with n ≥ 1, e.g. "import-accepted:2"`);
    const [, name, n] = match as unknown as [string, string, string];
    if (!isName(name))
      throw new Error(`${CRASH_AT_ENV}: unknown crash point "${name}"; known: ${CRASH_POINTS.join(', ')}`);
    plan.set(name, Math.min(Number(n), plan.get(name) ?? Infinity));
  }
  return plan;
}

export interface CrashPoints {
  reach(name: CrashPointName): void;
  counts(): Record<CrashPointName, number>;
}

export interface CrashPointIo {
  kill(): void;
  append(file: string, line: string): void;
}

const realIo: CrashPointIo = {
  kill: () => process.kill(process.pid, 'SIGKILL'),
  append: (file, line) => appendFileSync(file, line),
};

const zeroCounts = (): Record<CrashPointName, number> =>
  Object.fromEntries(CRASH_POINTS.map((n) => [n, 0])) as Record<CrashPointName, number>;

/** The crash points for an environment (the module's own instance reads process.env once, at load). */
export function createCrashPoints(env: NodeJS.ProcessEnv, io: CrashPointIo = realIo): CrashPoints {
  const plan = parseCrashPlan(env[CRASH_AT_ENV]);
  const report = env[CRASH_REPORT_ENV] || undefined;
  const armed = plan.size > 0 || report !== undefined;
  const reached = zeroCounts();
  return {
    reach(name) {
      if (!armed) return;
      const n = ++reached[name];
      if (report !== undefined) io.append(report, `${name}\n`);
      if (plan.get(name) === n) io.kill();
    },
    counts: () => ({ ...reached }),
  };
}

const points = createCrashPoints(process.env);

/** Marks a step where a SIGKILL matters; a no-op unless a drill armed it (see the file comment). */
export function crashPoint(name: CrashPointName): void {
  points.reach(name);
}

/** How often each point was reached in this process (all zero when no drill armed them). */
export function crashPointCounts(): Record<CrashPointName, number> {
  return points.counts();
}
