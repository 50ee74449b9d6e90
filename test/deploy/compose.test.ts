import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { parseProduceSampleArgs } from '../../src/dev/cli/produce-sample.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { COMPOSE_FILE, bindMounts, flagValue, mountedConfigs, ownServices, readCompose } from './compose-files.js';
import { repoRoot, requireTool, run } from './tools.js';

/** docker-compose.yml: valid for docker-compose 1.29, and every config it mounts passes the service's own check. */
describe('docker-compose.yml', () => {
  it('passes `docker-compose config -q` (docker-compose 1.29), which rejects a broken copy of it', (t) => {
    const dc = requireTool(t, 'docker-compose');
    if (!dc) return;
    const r = run(dc, ['-f', 'docker-compose.yml', 'config', '-q']);
    assert.equal(r.status, 0, `docker-compose config -q:\n${r.stderr}`);

    // The same check fails on a copy with an option 1.29 does not know, so the pass above means something.
    const dir = mkdtempSync(join(tmpdir(), 'compose-'));
    try {
      const broken = readFileSync(COMPOSE_FILE, 'utf8').replace(
        /^( {2}ac-list-sync:\n)/m,
        '$1    restart_policy_typo: always\n',
      );
      assert.notEqual(broken, readFileSync(COMPOSE_FILE, 'utf8'));
      writeFileSync(join(dir, 'docker-compose.yml'), broken);
      const bad = run(dc, ['-f', 'docker-compose.yml', 'config', '-q'], dir);
      assert.notEqual(bad.status, 0);
      assert.match(bad.stderr, /restart_policy_typo/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('mounts only files that exist in the repository', () => {
    for (const [name, service] of Object.entries(readCompose().services)) {
      for (const m of bindMounts(service))
        assert.ok(existsSync(resolve(repoRoot, m.source)), `${name}: ${m.source} exists`);
    }
  });

  it('runs this project image read-only with a /tmp tmpfs', () => {
    const own = ownServices(readCompose().services);
    assert.deepEqual(own.map(([n]) => n).sort(), ['ac-list-sync', 'sample-events', 'simulator']);
    for (const [name, s] of own) {
      assert.equal(s.read_only, true, `${name} read_only`);
      assert.deepEqual(s.tmpfs, ['/tmp'], `${name} tmpfs`);
    }
  });

  it('every mounted config passes the service config check, and its secrets, broker, API URL and port are wired in the stack', () => {
    const { services } = readCompose();
    const configs = mountedConfigs();
    assert.ok(configs.length >= 1, 'the compose file mounts at least one config');
    for (const { service, file, env, mounts } of configs) {
      const config: Config = loadConfig(file);
      for (const [name, conn] of Object.entries(config.connections)) {
        const ref = conn.apiKey;
        if ('env' in ref) assert.ok(env[ref.env], `${service}: connections.${name}.apiKey env ${ref.env} is set`);
        if ('file' in ref)
          assert.ok(
            mounts.some((m) => m.target === ref.file),
            `${service}: connections.${name}.apiKey file ${ref.file} is mounted`,
          );
        const url = new URL(conn.apiUrl);
        const target = services[url.hostname];
        assert.ok(target, `${service}: connections.${name}.apiUrl host ${url.hostname} is a service of the stack`);
        assert.equal(
          flagValue(target.command, '--port'),
          url.port,
          `${service}: the simulator listens on the port of apiUrl`,
        );
        if ('env' in ref)
          assert.equal(
            flagValue(target.command, '--token'),
            env[ref.env],
            `${service}: the API key is the simulator's token`,
          );
      }
      for (const broker of config.kafka.brokers) {
        const host = broker.split(':')[0]!;
        assert.ok(services[host], `${service}: broker ${broker} is a service of the stack`);
        assert.match(
          services[host]!.environment?.KAFKA_ADVERTISED_LISTENERS ?? '',
          new RegExp(`//${broker}(,|$)`),
          `${service}: ${broker} is advertised`,
        );
      }
      if (config.schemaRegistry) {
        const url = new URL(config.schemaRegistry.url);
        const registry = services[url.hostname];
        assert.ok(registry, `${service}: schemaRegistry.url host ${url.hostname} is a service of the stack`);
        assert.match(
          registry.environment?.SCHEMA_REGISTRY_LISTENERS ?? '',
          new RegExp(`:${url.port}$`),
          `${service}: the registry listens on ${url.port}`,
        );
      }
      assert.ok(
        (services[service]!.ports ?? []).some((p) => p.endsWith(`:${config.http.port}`)),
        `${service}: the metrics port ${config.http.port} is published`,
      );

      // The sample job writes to this config's topic, only segments that some export maps.
      const sample = parseProduceSampleArgs(services['sample-events']!.command!.slice(1), {});
      assert.ok(
        config.kafka.topics.includes(sample.topic),
        `sample-events writes to ${config.kafka.topics.join(', ')}`,
      );
      const mapped = new Set(config.exports.map((e) => e.segmentId));
      for (const s of sample.segments)
        assert.ok(mapped.has(s), `segment ${s} of sample-events has an export in ${service}`);
      assert.deepEqual(sample.brokers, config.kafka.brokers);
    }
  });

  it('points Prometheus at the service metrics port and loads the alert rules; provisions Grafana with Prometheus and the dashboard', () => {
    const { services } = readCompose();
    const file = mountedConfigs()[0]!.file;
    const port = loadConfig(file).http.port;
    const prometheus = services.prometheus!;
    const promMounts = bindMounts(prometheus);
    const promConfigMount = promMounts.find((m) => m.target === '/etc/prometheus/prometheus.yml')!;
    const prom = parseYaml(readFileSync(resolve(repoRoot, promConfigMount.source), 'utf8')) as {
      rule_files: string[];
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const targets = prom.scrape_configs.flatMap((s) => s.static_configs.flatMap((c) => c.targets));
    assert.ok(targets.includes(`ac-list-sync:${port}`), `Prometheus scrapes ac-list-sync:${port}`);
    const rules = promMounts.find((m) => m.source.endsWith('helm/ac-list-sync/files/prometheus-alerts.yml'));
    assert.ok(rules, 'the project alert rules are mounted');
    const ruleDir = rules.target.slice(0, rules.target.lastIndexOf('/'));
    assert.ok(
      prom.rule_files.some((g) => g === rules.target || g === `${ruleDir}/*.yml`),
      'rule_files covers the mounted rules',
    );

    const grafana = bindMounts(services.grafana!);
    const datasources = grafana.find((m) => m.target.startsWith('/etc/grafana/provisioning/datasources/'))!;
    const ds = parseYaml(readFileSync(resolve(repoRoot, datasources.source), 'utf8')) as {
      datasources: { type: string; url: string; isDefault?: boolean }[];
    };
    assert.deepEqual(
      ds.datasources.map((d) => [d.type, d.url, d.isDefault]),
      [['prometheus', 'http://prometheus:9090', true]],
    );
    const providers = grafana.find((m) => m.target.startsWith('/etc/grafana/provisioning/dashboards/'))!;
    const provider = parseYaml(readFileSync(resolve(repoRoot, providers.source), 'utf8')) as {
      providers: { options: { path: string } }[];
    };
    const dashboard = grafana.find((m) => m.source.endsWith('helm/ac-list-sync/files/grafana-dashboard.json'));
    assert.ok(dashboard, 'the project dashboard is mounted');
    assert.ok(
      dashboard.target.startsWith(`${provider.providers[0]!.options.path}/`),
      'into the folder the dashboard provider reads',
    );
  });
});
