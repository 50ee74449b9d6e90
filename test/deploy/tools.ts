import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { parseAllDocuments } from 'yaml';

/** The repository root: the nearest directory above this file whose package.json is ac-list-sync's. */
export const repoRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'ac-list-sync')
      return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root (package.json of ac-list-sync)');
    dir = up;
  }
})();

export const chartDir = join(repoRoot, 'helm', 'ac-list-sync');

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** A tool from .cache/bin (where scripts/ci-tools.sh puts it) or PATH, else undefined. */
export function findTool(name: string): string | undefined {
  const candidates = [
    join(repoRoot, '.cache', 'bin', name),
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .filter(Boolean)
      .map((d) => join(d, name)),
  ];
  return candidates.find(executable);
}

/**
 * The tool, or: under CI=true a failure (CI installs it with scripts/ci-tools.sh), elsewhere a skipped test with
 * the reason. Returns undefined when the test was skipped.
 */
export function requireTool(t: TestContext, name: string): string | undefined {
  const path = findTool(name);
  if (path) return path;
  const message = `${name} not found in .cache/bin or PATH (scripts/ci-tools.sh installs it)`;
  if (process.env.CI === 'true') throw new Error(`${message}; CI=true, so this is a failure`);
  t.skip(`${message}; skipped outside CI`);
  return undefined;
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(command: string, args: string[], cwd = repoRoot): Run {
  const r = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: {
      ...process.env,
      HELM_CACHE_HOME: join(repoRoot, '.cache', 'helm'),
      HELM_CONFIG_HOME: join(repoRoot, '.cache', 'helm-config'),
    },
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

/** `helm template` of the chart with the given extra arguments; throws with helm's message when it fails. */
export function helmTemplate(helm: string, args: string[] = []): Manifest[] {
  const r = run(helm, ['template', 'sync', chartDir, '--namespace', 'sync', ...args]);
  if (r.status !== 0) throw new Error(`helm template ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return parseManifests(r.stdout);
}

export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length) throw new Error(`rendered YAML does not parse: ${doc.errors[0]!.message}`);
      return doc.toJS() as Manifest | null;
    })
    .filter((m): m is Manifest => m !== null);
}
