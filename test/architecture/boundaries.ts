/**
 * The dependency rule between the service and the ActiveCampaign simulator (packages/ac-simulator), as a pure
 * check over an import graph, and the reader that builds that graph from the repository's .ts sources.
 *
 *   - The package imports nothing from outside its folder: node: built-ins and its own package.json dependencies
 *     only. It is the oracle the service is tested against, so it must not share the service's code.
 *   - The service (src/) imports the package only in its CLI wiring (the `simulator` and `demo` commands).
 *   - Everything outside the package (that wiring, test/, bench/) imports only the entry files its package.json
 *     exports, by path: the root build compiles the package into dist/packages/, where a relative import finds it
 *     in every checkout (a name would resolve through node_modules, which a git worktree may share with another).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import ts from 'typescript';

/** One import: `from` a repo-relative .ts file, `to` the repo-relative file it names, or a bare specifier (`bare`). */
export interface Edge {
  from: string;
  to: string;
  bare: boolean;
}

export interface Boundary {
  /** The package's folder, repo-relative: packages/ac-simulator. */
  dir: string;
  name: string;
  /** Bare specifiers the package may import besides node: built-ins: its dependencies and devDependencies. */
  dependencies: string[];
  /** Repo-relative .ts files that outsiders may import: what its package.json exports. */
  entries: string[];
  /** Service files (under src/) that may import the package. */
  wiring: string[];
}

interface PackageJson {
  name: string;
  exports: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/** The boundary of a workspace package as its package.json declares it, with the service files allowed to cross. */
export function readBoundary(root: string, dir: string, wiring: string[]): Boundary {
  const pkg = JSON.parse(readFileSync(posix.join(root, dir, 'package.json'), 'utf8')) as PackageJson;
  const source = (target: string) => target.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts');
  const entries = Object.values(pkg.exports).map((target) => posix.join(dir, source(target)));
  return {
    dir,
    name: pkg.name,
    dependencies: Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }),
    entries,
    wiring,
  };
}

/** Every import (static, dynamic, type-only, re-export) of every .ts file under `folders`, outside dist/ and node_modules/. */
export function readImports(root: string, folders: string[]): Edge[] {
  const files = folders.flatMap((folder) => tsFiles(root, folder));
  return files.flatMap((from) => {
    const { importedFiles } = ts.preProcessFile(readFileSync(posix.join(root, from), 'utf8'), true, true);
    return importedFiles.map(({ fileName }) => {
      const bare = !fileName.startsWith('.');
      const to = bare ? fileName : posix.normalize(posix.join(posix.dirname(from), fileName)).replace(/\.js$/, '.ts');
      return { from, bare, to };
    });
  });
}

function tsFiles(root: string, dir: string): string[] {
  return readdirSync(posix.join(root, dir)).flatMap((name) => {
    const path = posix.join(dir, name);
    if (name === 'dist' || name === 'node_modules') return [];
    if (statSync(posix.join(root, path)).isDirectory()) return tsFiles(root, path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** What breaks the rule, one sentence per import; empty when the graph keeps it. */
export function boundaryProblems(edges: Edge[], b: Boundary): string[] {
  const inside = (e: Edge) => !e.bare && e.to.startsWith(`${b.dir}/`);
  const byName = (e: Edge) => e.bare && (e.to === b.name || e.to.startsWith(`${b.name}/`));
  const packageOf = (to: string) =>
    to
      .split('/')
      .slice(0, to.startsWith('@') ? 2 : 1)
      .join('/');
  const problems: string[] = [];
  for (const e of edges) {
    const { from, to } = e;
    if (from.startsWith(`${b.dir}/`)) {
      if (inside(e) || to.startsWith('node:')) continue;
      if (!e.bare) problems.push(`${from} imports ${to}: the simulator imports nothing from outside ${b.dir}`);
      else if (!b.dependencies.includes(packageOf(to))) {
        problems.push(`${from} imports ${to}, which is not a dependency in ${b.dir}/package.json`);
      }
    } else if (inside(e) || byName(e)) {
      if (from.startsWith('src/') && !b.wiring.includes(from)) {
        problems.push(
          `${from} imports ${to}: the service imports the simulator only in its CLI wiring (${b.wiring.join(', ')})`,
        );
      } else if (byName(e)) {
        problems.push(
          `${from} imports ${to} by name: import an entry by path (${b.entries[0]}), which the root build compiles`,
        );
      } else if (!b.entries.includes(to)) {
        problems.push(`${from} imports ${to}, which ${b.dir}/package.json does not export (${b.entries.join(', ')})`);
      }
    }
  }
  for (const file of b.wiring) {
    if (!edges.some((e) => e.from === file && (inside(e) || byName(e)))) {
      problems.push(`${file} is listed as wiring but does not import the simulator: drop it from the list`);
    }
  }
  return problems;
}
