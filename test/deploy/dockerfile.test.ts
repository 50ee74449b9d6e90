import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { inContext, lintDockerfile, parseDockerfile } from './dockerfile-lint.js';
import { repoRoot } from './tools.js';

/** The image recipe, checked structurally: CI has no container engine to build it. */
const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
const dockerignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8');

describe('Dockerfile', () => {
  it('passes the structural lint: stages, LTS node, production dependencies, non-root user, exec-form node entrypoint, metrics port, /tmp', () => {
    assert.deepEqual(lintDockerfile(dockerfile), []);
  });

  it('runs the compiled CLI that the build stage produces', () => {
    const { stages } = parseDockerfile(dockerfile);
    const ep = JSON.parse(stages.at(-1)!.instructions.find((i) => i.keyword === 'ENTRYPOINT')!.args) as string[];
    assert.deepEqual(ep, ['node', 'dist/src/cli/index.js']);
    assert.ok(
      existsSync(join(repoRoot, 'src', 'cli', 'index.ts')),
      'dist/src/cli/index.js is compiled from src/cli/index.ts',
    );
    const cmd = JSON.parse(stages.at(-1)!.instructions.find((i) => i.keyword === 'CMD')!.args) as string[];
    assert.deepEqual(cmd.slice(0, 2), ['run', '--config']);
  });

  it('flags the mistakes it is there to catch', () => {
    const bad = [
      'FROM node:20-alpine',
      'WORKDIR /app',
      'COPY . .',
      'RUN npm install && npx tsc -p .',
      'ENTRYPOINT node dist/src/cli/index.js',
    ].join('\n');
    assert.deepEqual(lintDockerfile(bad), ['a multi-stage build is expected, found 1 stage(s)']);

    const worse = [
      'ARG NODE_IMAGE=node:20-bookworm-slim',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile text, not a template
      'FROM ${NODE_IMAGE} AS build',
      'RUN npm ci',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile text, not a template
      'FROM ${NODE_IMAGE}',
      'COPY --from=build /app/node_modules ./node_modules',
      'RUN npm install',
      'USER node',
      'ENTRYPOINT ["sh", "-c", "node dist/src/cli/index.js"]',
      'EXPOSE 8080',
    ].join('\n');
    const problems = lintDockerfile(worse);
    for (const expected of [
      /no build stage compiles/,
      /node 20 is not a supported LTS line/,
      /runtime stage should install production dependencies/,
      /runtime stage installs development dependencies/,
      /copies dependencies or the whole build/,
      /USER node should be numeric/,
      /ENTRYPOINT should start node directly, not sh/,
      /metrics port 9464 is not EXPOSEd/,
      /\/tmp is not declared/,
    ]) {
      assert.ok(
        problems.some((p) => expected.test(p)),
        `expected a problem matching ${expected}; got ${JSON.stringify(problems)}`,
      );
    }
    assert.ok(lintDockerfile(worse.replace('USER node', 'USER 0:0')).some((p) => p === 'USER 0 is root'));
  });
});

describe('.dockerignore', () => {
  it('sends what the stages copy and keeps local builds, dependencies, caches and git out', () => {
    const { stages } = parseDockerfile(dockerfile);
    const sources = stages
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === 'COPY' && !i.args.includes('--from='))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    assert.ok(sources.length > 0);
    for (const source of sources) {
      assert.ok(existsSync(join(repoRoot, source)), `${source} exists`);
      assert.ok(inContext(dockerignore, source.replace(/^\.\//, '')), `${source} is in the build context`);
    }
    for (const kept of [
      'node_modules',
      'dist/src/main.js',
      '.git',
      '.cache/bin/helm',
      'test/run.ts',
      'helm/ac-list-sync/values.yaml',
      'packages/ac-simulator/test/api.test.ts',
      'packages/ac-simulator/dist/src/index.js',
    ]) {
      assert.equal(inContext(dockerignore, kept), false, `${kept} stays out of the build context`);
    }
  });
});
