import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { repoRoot } from './tools.js';

/** docker-compose.yml read the way compose reads it (YAML merge keys on), for the deployment tests. */
export const COMPOSE_FILE = join(repoRoot, 'docker-compose.yml');

export interface ComposeService {
  build?: string | { context: string };
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  read_only?: boolean;
  tmpfs?: string[];
}

export function readCompose(): { services: Record<string, ComposeService> } {
  return parseYaml(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
}

/** Services that run this project's image, i.e. are built from the Dockerfile. */
export const ownServices = (services: Record<string, ComposeService>) =>
  Object.entries(services).filter(([, s]) => s.build !== undefined);

export function bindMounts(service: ComposeService): { source: string; target: string }[] {
  return (service.volumes ?? []).map((v) => {
    const [source, target] = v.split(':');
    return { source: source!, target: target! };
  });
}

export interface MountedConfig {
  service: string;
  /** Host path of the file mounted at the --config path. */
  file: string;
  env: Record<string, string>;
  mounts: { source: string; target: string }[];
}

/** The configs the compose file hands to `--config`; throws when a --config path is not a mounted file. */
export function mountedConfigs(): MountedConfig[] {
  const found: MountedConfig[] = [];
  for (const [name, service] of ownServices(readCompose().services)) {
    const args = service.command ?? [];
    const i = args.indexOf('--config');
    if (i < 0) continue;
    const path = args[i + 1]!;
    const mounts = bindMounts(service);
    const mount = mounts.find((m) => m.target === path);
    if (!mount) throw new Error(`${name}: --config ${path} is not a mounted file`);
    found.push({ service: name, file: resolve(repoRoot, mount.source), env: service.environment ?? {}, mounts });
  }
  return found;
}

/** The value after `flag` in a command, or undefined. */
export function flagValue(command: string[] | undefined, flag: string): string | undefined {
  const i = (command ?? []).indexOf(flag);
  return i < 0 ? undefined : command![i + 1];
}
