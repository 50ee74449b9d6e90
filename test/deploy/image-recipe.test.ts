import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseDockerfile, type Stage } from './dockerfile-lint.js';
import { repoRoot, requireTool, run } from './tools.js';

/**
 * The image recipe without a container engine: the build stage's compile on exactly the files that stage copies,
 * then the runtime stage's production-only install with the compiled code, which must load and check a config.
 * A runtime import of a devDependency, or of a file the image does not copy, fails here as it would in the image.
 */
const { stages } = parseDockerfile(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'));
const build = stages.find((s) => s.name === 'build')!;
const runtime = stages.at(-1)!;
const work = mkdtempSync(join(tmpdir(), 'image-recipe-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** Loads src/kafka/codecs.ts as the image does and round-trips a record batch's worth of bytes through each codec. */
const CODEC_CHECK = `
import kafkajs from 'kafkajs';
await import('./dist/src/kafka/codecs.js');
const data = Buffer.from(JSON.stringify({ op: 'add', profile: { email: 'a@example.com' } }).repeat(500));
const names = [];
for (const [name, type] of [['snappy', kafkajs.CompressionTypes.Snappy], ['lz4', kafkajs.CompressionTypes.LZ4], ['zstd', kafkajs.CompressionTypes.ZSTD]]) {
  const codec = kafkajs.CompressionCodecs[type]();
  const packed = await codec.compress({ buffer: data });
  if (packed.length >= data.length || !(await codec.decompress(packed)).equals(data)) throw new Error(name + ' does not round-trip');
  names.push(name);
}
console.log(names.join(' '));
`;

/** Copies what a stage COPYs from the build context (not from other stages) into `dir`. */
function copyContext(stage: Stage, dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const copy of stage.instructions.filter((i) => i.keyword === 'COPY' && !i.args.includes('--from='))) {
    const words = copy.args.split(/\s+/);
    const target = words.at(-1)!;
    for (const source of words.slice(0, -1)) {
      const to = target.endsWith('/') || words.length > 2 ? join(dir, target, source) : join(dir, target);
      cpSync(join(repoRoot, source), to, { recursive: true });
    }
  }
}

/** Copies what a stage COPYs --from=<stage> (paths under that stage's /app) out of `fromDir` into `dir`. */
function copyFromStage(stage: Stage, from: string, fromDir: string, dir: string): number {
  const copies = stage.instructions.filter((i) => i.keyword === 'COPY' && i.args.includes(`--from=${from} `));
  for (const copy of copies) {
    const [source, target] = copy.args.split(/\s+/).filter((w) => !w.startsWith('--'));
    cpSync(join(fromDir, source!.replace(/^\/app\//, '')), join(dir, target!), { recursive: true });
  }
  return copies.length;
}

describe('image recipe, without a container engine', () => {
  it("compiles in the build stage's context and runs on production dependencies only", (t) => {
    const npm = requireTool(t, 'npm');
    if (!npm) return;
    const buildDir = join(work, 'build');
    copyContext(build, buildDir);
    symlinkSync(join(repoRoot, 'node_modules'), join(buildDir, 'node_modules'), 'dir');
    const tsc = run(
      process.execPath,
      [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'],
      buildDir,
    );
    assert.equal(tsc.status, 0, `tsc in the build stage's context:\n${tsc.stdout}${tsc.stderr}`);

    const appDir = join(work, 'runtime');
    copyContext(runtime, appDir);
    const install = run(
      npm,
      ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'],
      appDir,
    );
    assert.equal(install.status, 0, `npm ci --omit=dev:\n${install.stderr}`);
    const copied = copyFromStage(runtime, 'build', buildDir, appDir);
    assert.ok(copied >= 1, 'the runtime stage copies the compiled code from the build stage');
    const devOnly = run(
      process.execPath,
      ['-e', "import('typescript').then(() => process.exit(0), () => process.exit(7))"],
      appDir,
    );
    assert.equal(devOnly.status, 7, 'devDependencies are absent from the runtime install');

    // The compression codecs are native (prebuilt per platform, optional dependencies): each must load and round-trip.
    const codecs = run(process.execPath, ['--input-type=module', '-e', CODEC_CHECK], appDir);
    assert.equal(codecs.status, 0, `codecs on the runtime install:\n${codecs.stderr}`);
    assert.equal(codecs.stdout.trim(), 'snappy lz4 zstd');

    const cli = join(appDir, 'dist', 'src', 'cli', 'index.js');
    const check = run(
      process.execPath,
      [cli, 'check-config', '--config', join(repoRoot, 'deploy', 'compose', 'config.json')],
      appDir,
    );
    assert.equal(check.status, 0, `check-config on the runtime install:\n${check.stderr}`);
    assert.match(check.stdout, /^ok: 3 exports/);
    // The CLI loads every command, the simulator's too (packages/ac-simulator, compiled into dist/packages/).
    const usage = run(process.execPath, [cli, '--help'], appDir);
    assert.equal(usage.status, 0, usage.stderr);
    assert.match(usage.stderr, /produce-sample/);
    const simulator = run(process.execPath, [cli, 'simulator', '--bogus'], appDir);
    assert.equal(simulator.status, 2, simulator.stderr);
    assert.match(simulator.stderr, /usage: simulator/);
  });

  it("locks a musl build of every native codec for the image's Alpine, as well as the glibc one", () => {
    const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version: string; libc?: string[]; optionalDependencies?: Record<string, string> }>;
    };
    for (const name of ['snappy', 'lz4-napi', '@mongodb-js/zstd']) {
      const optional = Object.entries(lock.packages[`node_modules/${name}`]?.optionalDependencies ?? {});
      for (const libc of ['musl', 'gnu']) {
        const binding = optional.find(([dep]) => dep.endsWith(`-linux-x64-${libc}`));
        assert.ok(binding, `${name} has a linux-x64-${libc} binding`);
        const locked = lock.packages[`node_modules/${binding[0]}`];
        assert.equal(locked?.version, binding[1], `${binding[0]} is in the lockfile at the version ${name} wants`);
        // npm installs only the binding whose libc matches the machine; one that names none is installed anywhere.
        if (libc === 'musl') assert.deepEqual(locked?.libc, ['musl'], `${binding[0]} is installed on Alpine`);
        else assert.notDeepEqual(locked?.libc, ['musl'], `${binding[0]} is installed on glibc`);
      }
    }
  });
});
