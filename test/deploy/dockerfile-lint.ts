/**
 * A structural lint of the Dockerfile (there is no container engine here to build it): stages, the runtime's base
 * image, dependencies, user, entrypoint, ports, the writable path. Pure: text in, problems out.
 */
export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  name: string | undefined;
  image: string;
  instructions: Instruction[];
}

export function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const joined = text.replace(/\\\r?\n/g, ' ');
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const raw of joined.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+)\s*(.*)$/.exec(line)!;
    const instruction = { keyword: m[1]!.toUpperCase(), args: m[2]!.trim() };
    if (instruction.keyword === 'FROM') {
      const [image, as, name] = instruction.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      stages.push({
        image: resolveArgs(image ?? '', args),
        name: as?.toUpperCase() === 'AS' ? name : undefined,
        instructions: [],
      });
    } else if (stages.length === 0 && instruction.keyword === 'ARG') {
      const [key, value] = instruction.args.split('=');
      args.set(key!, value ?? '');
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return { args, stages };
}

const resolveArgs = (s: string, args: Map<string, string>) =>
  s.replace(/\$\{?(\w+)\}?/g, (_, k: string) => args.get(k) ?? '');

/** An exec-form (JSON array) argument list, or undefined for the shell form. */
function execForm(args: string): string[] | undefined {
  try {
    const v: unknown = JSON.parse(args);
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
  } catch {
    return undefined;
  }
}

export function lintDockerfile(text: string, metricsPort = 9464): string[] {
  const problems: string[] = [];
  const { stages } = parseDockerfile(text);
  if (stages.length < 2) return [`a multi-stage build is expected, found ${stages.length} stage(s)`];
  const final = stages.at(-1)!;
  const earlier = stages.slice(0, -1);
  const runs = (s: Stage) => s.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);

  if (!earlier.some((s) => runs(s).some((r) => /\bnpm ci\b/.test(r) && !/--omit=dev/.test(r))))
    problems.push('no build stage installs all dependencies with `npm ci`');
  if (!earlier.some((s) => runs(s).some((r) => /\btsc -p \./.test(r))))
    problems.push('no build stage compiles with `tsc -p .`');

  const node = /^node:(\d+)[.-]/.exec(final.image) ?? /^node:(\d+)$/.exec(final.image);
  if (!node) problems.push(`the runtime stage should start from an official node image, not "${final.image}"`);
  else {
    const major = Number(node[1]);
    if (major % 2 !== 0 || major < 22) problems.push(`node ${major} is not a supported LTS line (22, 24, 26, …)`);
  }

  const finalRuns = runs(final);
  if (!finalRuns.some((r) => /\bnpm ci\b[^&;]*--omit=dev/.test(r)))
    problems.push('the runtime stage should install production dependencies with `npm ci --omit=dev`');
  if (finalRuns.some((r) => /\bnpm (install|i)\b/.test(r) || (/\bnpm ci\b/.test(r) && !/--omit=dev/.test(r))))
    problems.push('the runtime stage installs development dependencies');
  for (const copy of final.instructions.filter((i) => i.keyword === 'COPY' && /--from=/.test(i.args))) {
    if (/node_modules/.test(copy.args) || /\s\/app\/?\s+\S+$/.test(` ${copy.args}`) || /\s\.\s+\.$/.test(copy.args)) {
      problems.push(`the runtime stage copies dependencies or the whole build from another stage: COPY ${copy.args}`);
    }
  }

  const user = final.instructions.filter((i) => i.keyword === 'USER').at(-1)?.args;
  if (!user) problems.push('the runtime stage runs as root (no USER)');
  else {
    const [uid] = user.split(':');
    if (!/^\d+$/.test(uid!)) problems.push(`USER ${user} should be numeric so Kubernetes runAsNonRoot can verify it`);
    else if (Number(uid) === 0) problems.push('USER 0 is root');
  }

  const entrypoint = final.instructions.filter((i) => i.keyword === 'ENTRYPOINT').at(-1);
  const ep = entrypoint ? execForm(entrypoint.args) : undefined;
  if (!ep) problems.push('ENTRYPOINT should be in exec form (a JSON array) so node is PID 1 and receives SIGTERM');
  else if (ep[0] !== 'node') problems.push(`ENTRYPOINT should start node directly, not ${ep[0]}`);

  const exposed = final.instructions
    .filter((i) => i.keyword === 'EXPOSE')
    .flatMap((i) => i.args.split(/\s+/))
    .map((p) => p.split('/')[0]);
  if (!exposed.includes(String(metricsPort))) problems.push(`the metrics port ${metricsPort} is not EXPOSEd`);

  const volumes = final.instructions
    .filter((i) => i.keyword === 'VOLUME')
    .flatMap((i) => execForm(i.args) ?? i.args.split(/\s+/));
  if (!volumes.includes('/tmp'))
    problems.push('/tmp is not declared as a VOLUME (the only writable path under a read-only root)');
  return problems;
}

/** Whether .dockerignore (last matching pattern wins, `!` re-includes) leaves `path` in the build context. */
export function inContext(dockerignore: string, path: string): boolean {
  let included = true;
  for (const raw of dockerignore.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    const pattern = (negate ? line.slice(1) : line).replace(/\/+$/, '');
    const re = new RegExp(
      `^${pattern
        .split('*')
        .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^/]*')}(/.*)?$`,
    );
    if (re.test(path)) included = negate;
  }
  return included;
}
