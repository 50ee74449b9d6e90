import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import type { Config, SecretRef } from '../../src/config/schema.js';
import { chartDir, helmTemplate, parseManifests, repoRoot, requireTool, run, type Manifest } from './tools.js';

/** The chart, as `helm lint --strict` and `helm template` see it, with default and with non-default values. */
const FULL_VALUES = join(chartDir, 'ci', 'full-values.yaml');

interface Container {
  name: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  ports?: { name: string; containerPort: number }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  securityContext?: Record<string, unknown> & { capabilities?: { drop?: string[]; add?: string[] } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
}
interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Volume {
  name: string;
  secret?: { secretName: string };
  configMap?: { name: string };
  emptyDir?: Record<string, unknown>;
}
interface PodSpec {
  containers: Container[];
  volumes?: Volume[];
  securityContext?: Record<string, unknown>;
  terminationGracePeriodSeconds?: number;
  automountServiceAccountToken?: boolean;
}
interface Deployment extends Manifest {
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
}

const byKind = (ms: Manifest[], kind: string) => ms.filter((m) => m.kind === kind);
function one<T extends Manifest = Manifest>(ms: Manifest[], kind: string, name?: string): T {
  const found = byKind(ms, kind).filter((m) => name === undefined || m.metadata.name === name);
  assert.equal(found.length, 1, `exactly one ${kind}${name ? ` named ${name}` : ''}, found ${found.length}`);
  return found[0] as T;
}
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

/** The service's config from the rendered ConfigMap, through the service's own check. */
function renderedConfig(ms: Manifest[], deployment: Deployment): { config: Config; raw: unknown } {
  const pod = deployment.spec.template.spec;
  const args = pod.containers[0]!.args ?? [];
  const configPath = args[args.indexOf('--config') + 1]!;
  const mount = pod.containers[0]!.volumeMounts!.find((m) => configPath.startsWith(`${m.mountPath}/`));
  assert.ok(mount, `the --config path ${configPath} is inside a volume mount`);
  const volume = pod.volumes!.find((v) => v.name === mount.name);
  assert.ok(volume?.configMap, `the config mount comes from a ConfigMap`);
  const cm = one(ms, 'ConfigMap', volume.configMap.name) as Manifest & { data: Record<string, string> };
  const text = cm.data[configPath.slice(mount.mountPath.length + 1)];
  assert.ok(text, 'the ConfigMap holds the file --config names');
  const raw: unknown = JSON.parse(text);
  return { config: parseConfig(raw), raw };
}

/** Every secret the config refers to comes from a Secret: a file under a mounted Secret, or an env var from secretKeyRef. */
function assertSecretsByReference(config: Config, pod: PodSpec): string[] {
  const container = pod.containers[0]!;
  const refs: [string, SecretRef][] = Object.entries(config.connections).map(([name, c]) => [
    `connections.${name}.apiKey`,
    c.apiKey,
  ]);
  if (config.kafka.sasl) refs.push(['kafka.sasl.password', config.kafka.sasl.password]);
  if (config.schemaRegistry?.password) refs.push(['schemaRegistry.password', config.schemaRegistry.password]);
  const secretNames: string[] = [];
  for (const [key, ref] of refs) {
    if ('value' in ref) assert.fail(`${key} is inlined in the config`);
    if ('file' in ref) {
      const mount = container.volumeMounts?.find((m) => ref.file.startsWith(`${m.mountPath}/`));
      const volume = pod.volumes?.find((v) => v.name === mount?.name);
      assert.ok(volume?.secret, `${key} (${ref.file}) is a file of a mounted Secret`);
      assert.equal(mount?.readOnly, true, `${key}: the Secret is mounted read-only`);
      secretNames.push(volume.secret.secretName);
    } else {
      const env = container.env?.find((e) => e.name === ref.env);
      assert.ok(env?.valueFrom?.secretKeyRef, `${key} (env ${ref.env}) comes from a secretKeyRef`);
      secretNames.push(env.valueFrom.secretKeyRef.name);
    }
  }
  return secretNames;
}

function assertLockedDown(pod: PodSpec): void {
  const c = pod.containers[0]!;
  assert.equal(pod.securityContext?.runAsNonRoot, true, 'pod runAsNonRoot');
  assert.ok(Number(pod.securityContext?.runAsUser) > 0, 'pod runs as a non-zero uid');
  assert.equal(c.securityContext?.runAsNonRoot, true, 'container runAsNonRoot');
  assert.equal(c.securityContext?.readOnlyRootFilesystem, true, 'readOnlyRootFilesystem');
  assert.equal(c.securityContext?.allowPrivilegeEscalation, false, 'no privilege escalation');
  assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], 'all capabilities dropped');
  assert.equal(c.securityContext?.capabilities?.add, undefined, 'no capability added back');
  const tmp = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
  assert.ok(tmp && pod.volumes?.find((v) => v.name === tmp.name)?.emptyDir, '/tmp is a writable emptyDir');
  assert.equal(pod.automountServiceAccountToken, false, 'no Kubernetes API token in the pod');
}

function assertProbes(c: Container, port: number): void {
  const metricsPort = c.ports?.find((p) => p.name === 'metrics');
  assert.equal(metricsPort?.containerPort, port, 'the metrics port');
  assert.deepEqual(c.livenessProbe?.httpGet, { path: '/healthz', port: 'metrics' });
  assert.deepEqual(c.readinessProbe?.httpGet, { path: '/readyz', port: 'metrics' });
  assert.deepEqual(c.startupProbe?.httpGet, { path: '/healthz', port: 'metrics' });
}

function lint(t: TestContext, args: string[]): void {
  const helm = requireTool(t, 'helm');
  if (!helm) return;
  const r = run(helm, ['lint', '--strict', chartDir, ...args]);
  assert.equal(r.status, 0, `helm lint --strict ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
}

describe('helm chart', () => {
  it('passes helm lint --strict with default values', (t) => lint(t, []));
  it('passes helm lint --strict with the non-default values of ci/full-values.yaml', (t) =>
    lint(t, ['-f', FULL_VALUES]));

  it('renders by default: probes, locked-down pods, a config the service accepts, secrets by reference only, PDB', (t) => {
    const helm = requireTool(t, 'helm');
    if (!helm) return;
    const ms = helmTemplate(helm);
    const deployment = one<Deployment>(ms, 'Deployment');
    const pod = deployment.spec.template.spec;
    const podLabels = deployment.spec.template.metadata.labels;
    assert.equal(deployment.spec.replicas, 2);
    assert.ok(matches(deployment.spec.selector.matchLabels, podLabels));
    assertProbes(pod.containers[0]!, 9464);
    assertLockedDown(pod);

    const { config } = renderedConfig(ms, deployment);
    assert.equal(config.http.port, 9464, 'the service listens on the probed port');
    assert.ok(
      pod.terminationGracePeriodSeconds! * 1000 > config.shutdown.deadlineMs,
      'the grace period outlasts the shutdown deadline',
    );
    assert.deepEqual(assertSecretsByReference(config, pod), ['sync-ac-list-sync']);
    assert.deepEqual(byKind(ms, 'Secret'), [], 'no Secret rendered from values by default');

    const service = one(ms, 'Service') as Manifest & {
      spec: { selector: Record<string, string>; ports: { name: string; targetPort: string }[] };
    };
    assert.ok(matches(service.spec.selector, podLabels), 'the metrics Service selects the pods');
    assert.deepEqual(
      service.spec.ports.map((p) => [p.name, p.targetPort]),
      [['metrics', 'metrics']],
    );
    const pdb = one(ms, 'PodDisruptionBudget') as Manifest & {
      spec: { maxUnavailable: number; selector: { matchLabels: Record<string, string> } };
    };
    assert.equal(pdb.spec.maxUnavailable, 1);
    assert.ok(matches(pdb.spec.selector.matchLabels, podLabels), 'the PDB covers the pods');

    for (const kind of ['HorizontalPodAutoscaler', 'ServiceMonitor', 'PrometheusRule'])
      assert.deepEqual(byKind(ms, kind), [], `no ${kind} by default`);
    assert.equal(byKind(ms, 'ConfigMap').length, 1, 'no dashboard ConfigMap by default');
  });

  it('renders ServiceMonitor, PrometheusRule, dashboard, HPA and an existing Secret with ci/full-values.yaml', (t) => {
    const helm = requireTool(t, 'helm');
    if (!helm) return;
    const values = parseYaml(readFileSync(FULL_VALUES, 'utf8')) as { sourcePartitions: number };
    const ms = helmTemplate(helm, ['-f', FULL_VALUES]);
    const deployment = one<Deployment>(ms, 'Deployment');
    const pod = deployment.spec.template.spec;
    assert.equal(deployment.spec.replicas, undefined, 'the HPA owns the replica count');
    assertProbes(pod.containers[0]!, 9500);
    assertLockedDown(pod);

    const { config } = renderedConfig(ms, deployment);
    assert.equal(config.http.port, 9500);
    assert.deepEqual(Object.keys(config.connections).sort(), ['eu', 'us']);
    assert.equal(config.kafka.sasl?.mechanism, 'scram-sha-512');
    assert.equal(config.schemaRegistry?.username, 'ac-list-sync');
    const secrets = assertSecretsByReference(config, pod);
    assert.deepEqual(
      [...new Set(secrets)],
      ['ac-list-sync-credentials'],
      'every secret comes from the named existing Secret',
    );
    assert.deepEqual(byKind(ms, 'Secret'), []);

    const hpa = one(ms, 'HorizontalPodAutoscaler') as Manifest & {
      spec: { maxReplicas: number; minReplicas: number; scaleTargetRef: { kind: string; name: string } };
    };
    assert.ok(
      hpa.spec.maxReplicas <= values.sourcePartitions,
      `HPA max ${hpa.spec.maxReplicas} <= ${values.sourcePartitions} partitions`,
    );
    assert.deepEqual(hpa.spec.scaleTargetRef, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: deployment.metadata.name,
    });

    const service = one(ms, 'Service');
    const monitor = one(ms, 'ServiceMonitor') as Manifest & {
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[] };
    };
    assert.ok(
      matches(monitor.spec.selector.matchLabels, service.metadata.labels!),
      'the ServiceMonitor selects the metrics Service',
    );
    assert.deepEqual(
      monitor.spec.endpoints.map((e) => [e.port, e.path]),
      [['metrics', '/metrics']],
    );
    assert.equal(monitor.metadata.labels?.release, 'kube-prometheus-stack');

    const rule = one(ms, 'PrometheusRule') as Manifest & { spec: { groups: unknown } };
    const alerts = parseYaml(readFileSync(join(chartDir, 'files', 'prometheus-alerts.yml'), 'utf8')) as {
      groups: unknown;
    };
    assert.deepEqual(rule.spec.groups, alerts.groups, 'the PrometheusRule carries the project alert rules unchanged');

    const dashboard = one(ms, 'ConfigMap', 'sync-ac-list-sync-dashboard') as Manifest & {
      data: Record<string, string>;
    };
    assert.equal(dashboard.metadata.labels?.grafana_dashboard, '1', 'labelled for the Grafana sidecar');
    assert.deepEqual(
      JSON.parse(dashboard.data['ac-list-sync.json']!),
      JSON.parse(readFileSync(join(chartDir, 'files', 'grafana-dashboard.json'), 'utf8')),
    );

    const pdb = one(ms, 'PodDisruptionBudget') as Manifest & { spec: { maxUnavailable: number } };
    assert.equal(pdb.spec.maxUnavailable, 2);
  });

  it("renders the README's values example into a config the service accepts", (t) => {
    const helm = requireTool(t, 'helm');
    if (!helm) return;
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const example = /```yaml\n(# my-values\.yaml\n[\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(example, 'README.md has the my-values.yaml example');
    const dir = mkdtempSync(join(tmpdir(), 'values-'));
    try {
      writeFileSync(join(dir, 'my-values.yaml'), example);
      const ms = helmTemplate(helm, ['-f', join(dir, 'my-values.yaml')]);
      const deployment = one<Deployment>(ms, 'Deployment');
      const { config } = renderedConfig(ms, deployment);
      assert.deepEqual(
        [...new Set(assertSecretsByReference(config, deployment.spec.template.spec))],
        ['ac-list-sync-credentials'],
      );
      assert.ok(byKind(ms, 'HorizontalPodAutoscaler').length === 1 && byKind(ms, 'ServiceMonitor').length === 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('renders NOTES.txt with the Secret to create and a warning when replicas exceed partitions', (t) => {
    const helm = requireTool(t, 'helm');
    if (!helm) return;
    // helm template skips NOTES.txt; a copy of the chart renders it through tpl into a ConfigMap.
    const dir = mkdtempSync(join(tmpdir(), 'notes-'));
    try {
      const chart = join(dir, 'ac-list-sync');
      cpSync(chartDir, chart, { recursive: true });
      cpSync(join(chart, 'templates', 'NOTES.txt'), join(chart, 'files', 'NOTES.txt'));
      writeFileSync(
        join(chart, 'templates', 'zz-notes.yaml'),
        'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: notes }\ndata:\n  notes: {{ tpl (.Files.Get "files/NOTES.txt") . | quote }}\n',
      );
      const notes = (args: string[]) => {
        const r = run(helm, [
          'template',
          'sync',
          chart,
          '--namespace',
          'sync',
          '--show-only',
          'templates/zz-notes.yaml',
          ...args,
        ]);
        assert.equal(r.status, 0, r.stderr);
        return (parseManifests(r.stdout)[0] as Manifest & { data: { notes: string } }).data.notes;
      };
      const plain = notes([]);
      assert.match(plain, /kubectl -n sync create secret generic sync-ac-list-sync/);
      assert.doesNotMatch(plain, /WARNING/);
      assert.match(
        notes(['--set', 'replicaCount=8']),
        /WARNING: replicaCount \(8\) is above sourcePartitions \(6\): 2 instance\(s\) will own\s+no partition/,
      );
      assert.match(notes(['--set', 'secrets.create=true']), /secrets.create is on/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never renders a secret given in values unless secrets.create asks for it (development only)', (t) => {
    const helm = requireTool(t, 'helm');
    if (!helm) return;
    const marker = 'not-a-real-key-7f3a9c';
    const hidden = run(helm, ['template', 'sync', chartDir, '--set', `secrets.data.ac-api-key=${marker}`]);
    assert.equal(hidden.status, 0, hidden.stderr);
    assert.ok(!hidden.stdout.includes(marker), 'the value appears nowhere in the render');
    const created = helmTemplate(helm, ['--set', 'secrets.create=true', '--set', `secrets.data.ac-api-key=${marker}`]);
    const secret = one(created, 'Secret') as Manifest & { stringData: Record<string, string> };
    assert.equal(secret.stringData['ac-api-key'], marker);
    assert.equal(secret.metadata.name, 'sync-ac-list-sync', 'the Secret the Deployment mounts');
  });

  it('refuses an HPA above the partition count, an inline secret, a grace period under the shutdown deadline, unknown values and an unused connection', (t) => {
    const helm = requireTool(t, 'helm');
    if (!helm) return;
    const refused = (args: string[], message: RegExp) => {
      const r = run(helm, ['template', 'sync', chartDir, ...args]);
      assert.notEqual(r.status, 0, `helm template ${args.join(' ')} should fail`);
      assert.match(r.stderr, message);
    };
    refused(
      ['--set', 'autoscaling.enabled=true', '--set', 'sourcePartitions=4', '--set', 'autoscaling.maxReplicas=5'],
      /maxReplicas \(5\) must not exceed sourcePartitions \(4\)/,
    );
    refused(
      ['--set', 'autoscaling.enabled=true', '--set', 'autoscaling.minReplicas=3', '--set', 'autoscaling.maxReplicas=2'],
      /minReplicas \(3\) must not exceed/,
    );
    refused(
      ['--set', 'config.connections.main.apiKey.file=null', '--set', 'config.connections.main.apiKey.value=inline'],
      /apiKey/,
    );
    refused(
      ['--set-json', 'config.kafka.sasl={"mechanism":"plain","username":"u","password":{"value":"inline"}}'],
      /sasl\/password/,
    );
    refused(
      ['--set-json', 'config.schemaRegistry={"url":"http://r:8081","username":"u","password":{"value":"inline"}}'],
      /schemaRegistry\/password/,
    );
    refused(
      ['--set', 'terminationGracePeriodSeconds=30'],
      /terminationGracePeriodSeconds \(30\) must be longer than config.shutdown.deadlineMs/,
    );
    refused(['--set', 'replicas=3'], /additional properties 'replicas' not allowed/);
    // Helm merges maps, so a connection named differently would silently keep the default one next to it.
    refused(
      [
        '--set-json',
        'config.connections.acme={"apiUrl":"https://acme.api-us1.com","apiKey":{"file":"/var/run/secrets/ac-list-sync/acme"},"privacyAcknowledged":true}',
      ],
      /config.connections.acme is used by no export/,
    );
    // The cap is inclusive: as many instances as partitions is fine.
    const ok = helmTemplate(helm, [
      '--set',
      'autoscaling.enabled=true',
      '--set',
      'sourcePartitions=4',
      '--set',
      'autoscaling.maxReplicas=4',
    ]);
    assert.equal(
      (one(ok, 'HorizontalPodAutoscaler') as Manifest & { spec: { maxReplicas: number } }).spec.maxReplicas,
      4,
    );
  });
});
