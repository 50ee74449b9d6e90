import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { repoRoot } from '../deploy/tools.js';
import { boundaryProblems, readBoundary, readImports, type Edge } from './boundaries.js';

/** The only service files that may import the simulator: the commands that start it. */
const WIRING = ['src/dev/cli/demo.ts', 'src/dev/cli/simulator.ts'];
const boundary = readBoundary(repoRoot, 'packages/ac-simulator', WIRING);

describe('the dependency rule between the service and packages/ac-simulator', () => {
  it('holds for every import of src/, test/, bench/ and packages/', () => {
    const edges = readImports(repoRoot, ['src', 'test', 'bench', 'packages']);
    // The reader sees the imports it judges: the wiring's, and the package's own.
    assert.ok(
      edges.some((e) => e.from === 'src/dev/cli/simulator.ts' && e.to === 'packages/ac-simulator/src/index.ts'),
    );
    assert.ok(edges.some((e) => e.from === 'packages/ac-simulator/src/options.ts' && e.to === 'zod' && e.bare));
    assert.deepEqual(boundaryProblems(edges, boundary), []);
  });

  it('fails on an import across the boundary in either direction, and on one past the exports', () => {
    const edge = (from: string, to: string): Edge => ({ from, to, bare: !to.includes('.ts') });
    const problems = boundaryProblems(
      [
        edge('src/dev/cli/demo.ts', 'packages/ac-simulator/src/index.ts'),
        edge('packages/ac-simulator/src/state.ts', 'packages/ac-simulator/src/store.ts'),
        edge('packages/ac-simulator/src/options.ts', 'zod'),
        edge('packages/ac-simulator/src/server.ts', 'node:http'),
        // the four that break it:
        edge('packages/ac-simulator/src/state.ts', 'src/domain/email.ts'),
        edge('packages/ac-simulator/src/server.ts', 'kafkajs'),
        edge('src/deliver/answer.ts', 'packages/ac-simulator/src/email.ts'),
        edge('test/support/harness.ts', 'packages/ac-simulator/src/state.ts'),
        edge('bench/roles/simulator.ts', 'ac-simulator'),
      ],
      boundary,
    );
    assert.deepEqual(
      problems.map((p) => p.split(' ').slice(0, 3).join(' ')),
      [
        'packages/ac-simulator/src/state.ts imports src/domain/email.ts:',
        'packages/ac-simulator/src/server.ts imports kafkajs,',
        'src/deliver/answer.ts imports packages/ac-simulator/src/email.ts:',
        'test/support/harness.ts imports packages/ac-simulator/src/state.ts,',
        'bench/roles/simulator.ts imports ac-simulator',
        'src/dev/cli/simulator.ts is listed',
      ],
    );
  });

  it("takes the entries from the package's exports", () => {
    assert.ok(boundary.entries.includes('packages/ac-simulator/src/index.ts'));
    assert.ok(boundary.entries.includes('packages/ac-simulator/src/email.ts'));
    assert.ok(!boundary.entries.includes('packages/ac-simulator/src/state.ts'));
  });
});
