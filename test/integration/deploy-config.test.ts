import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseProduceSampleArgs } from '../../src/dev/cli/produce-sample.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { membershipDiff } from '../../src/dev/sample/events.js';
import { produceSampleEvents } from '../../src/dev/sample/produce.js';
import { startSchemaRegistry, type SchemaRegistrySim } from '../../packages/ac-simulator/src/registry.js';
import { flagValue, mountedConfigs, readCompose } from '../deploy/compose-files.js';
import { chartDir, helmTemplate, requireTool } from '../deploy/tools.js';
import { brokers, eventually, kafka, type Simulator } from '../support/harness.js';
import { world } from '../support/world.js';

/**
 * The service starts with the configs users deploy: the one the helm chart renders (default and non-default values)
 * and each one the compose file mounts. Only what points outside this machine is replaced (brokers, TLS/SASL of the
 * broker, API and registry URLs, secret files, the listen port, the topic); everything else is kept as rendered.
 */

type Json = Record<string, unknown>;
type Expected = Map<string, Map<string, 'add' | 'remove'>>;

// Topics, services and simulators from the test world; the configs are the deployed ones, not the world's builder.
const w = world({ simulator: false });
const scratch = mkdtempSync(join(tmpdir(), 'deploy-config-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

interface Localised {
  config: Config;
  /** Environment variables the config's {"env"} secret refs need. */
  env: Record<string, string>;
}

const REGISTRY_PASSWORD = 'registry-password-for-tests';

/** Writes a secret to a file and returns the {"file"} ref to it. */
function secretFile(name: string, secret: string): { file: string } {
  const file = join(scratch, name);
  writeFileSync(file, `${secret}\n`);
  return { file };
}

/**
 * Points a deployed config at the test broker, the simulator and the test registry; env refs keep their names
 * (values from `envValues`, else the simulator's token), file refs move to files under the scratch directory.
 */
function localise(
  raw: unknown,
  topic: string,
  sim: Simulator,
  registry: SchemaRegistrySim | undefined,
  envValues: Record<string, string> = {},
): Localised {
  const value = structuredClone(raw) as Json & {
    kafka: Json;
    connections: Record<string, Json>;
    http?: Json;
    schemaRegistry?: Json;
  };
  value.kafka.brokers = brokers();
  value.kafka.topics = [topic];
  value.kafka.groupId = `${topic}-g`;
  delete value.kafka.ssl;
  delete value.kafka.sasl;
  const env: Record<string, string> = {};
  for (const [name, connection] of Object.entries(value.connections)) {
    connection.apiUrl = sim.url;
    const ref = connection.apiKey as { env?: string; file?: string };
    if (ref.env) env[ref.env] = envValues[ref.env] ?? sim.options.apiToken;
    else connection.apiKey = secretFile(`${topic}-${name}.key`, sim.options.apiToken);
  }
  if (value.schemaRegistry) {
    value.schemaRegistry.url = registry!.url;
    const ref = value.schemaRegistry.password as { env?: string; file?: string } | undefined;
    if (ref?.env) env[ref.env] = REGISTRY_PASSWORD;
    else if (ref) value.schemaRegistry.password = secretFile(`${topic}-registry.key`, REGISTRY_PASSWORD);
  }
  value.http = { ...(value.http ?? {}), port: 0 };
  return { config: parseConfig(value), env };
}

/** Runs a deployed config against the test broker, the simulator and (when the config names one) a test registry. */
async function runsWith(
  raw: unknown,
  sim: Simulator,
  name: string,
  partitions: number,
  produce: (topic: string, segments: string[]) => Promise<{ produced: number; expected: Expected }>,
  envValues: Record<string, string> = {},
): Promise<void> {
  const topic = await w.topic(name, partitions);
  const wanted = (raw as { schemaRegistry?: { username?: string } }).schemaRegistry;
  const registry = wanted
    ? await startSchemaRegistry(
        wanted.username ? { auth: { username: wanted.username, password: REGISTRY_PASSWORD } } : {},
      )
    : undefined;
  try {
    await syncs(localise(raw, topic, sim, registry, envValues), topic, sim, produce);
    if (registry) assert.ok(registry.counters.requests > 0, 'the service asked the schema registry at start-up');
  } finally {
    await registry?.close();
  }
}

/** Starts the service after `produce` wrote the events; waits until it is ready and every export's list matches. */
async function syncs(
  { config, env }: Localised,
  topic: string,
  sim: Simulator,
  produce: (topic: string, segments: string[]) => Promise<{ produced: number; expected: Expected }>,
): Promise<void> {
  const segments = [...new Set(config.exports.filter((e) => e.enabled).map((e) => e.segmentId))];
  const { produced, expected } = await produce(topic, segments);
  assert.ok(produced > 0);
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  const service = await w.start(config);
  try {
    // What the chart's probes and the compose healthcheck ask.
    const base = `http://127.0.0.1:${service.httpPort}`;
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    await eventually(async () => (await fetch(`${base}/readyz`)).status === 200, '/readyz to answer 200');
    for (const exp of config.exports) {
      const mine: Expected = new Map([[exp.segmentId, expected.get(exp.segmentId) ?? new Map()]]);
      await eventually(
        () =>
          membershipDiff(
            mine,
            () => exp.listId,
            (id) => sim.snapshot().lists[id]?.members ?? {},
          ).length === 0,
        `list ${exp.listId} of export ${exp.name} to match the events`,
      );
    }
    await eventually(() => service.totals().consumed === produced, `all ${produced} events to be consumed`);
    assert.equal(service.totals().deadLettered, 0);
    assert.ok(service.ready());
    assert.match(await (await fetch(`${base}/metrics`)).text(), /^ac_list_sync_/m);
  } finally {
    await service.stop();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

function simulatorFor(raw: {
  exports: { listId: string; fields?: Record<string, number | string> }[];
}): Promise<Simulator> {
  const lists = [...new Set(raw.exports.map((e) => e.listId))].map((id) => ({ id, name: `List ${id}` }));
  const fieldIds = [
    ...new Set(
      raw.exports.flatMap((e) => Object.values(e.fields ?? {})).filter((f): f is number => typeof f === 'number'),
    ),
  ];
  const fields = fieldIds.map((id) => ({ id: String(id), title: `Field ${id}`, perstag: `FIELD_${id}`, type: 'text' }));
  return w.simulator(fields.length ? { lists, fields } : { lists });
}

const sample = (events: number) => async (topic: string, segments: string[]) =>
  produceSampleEvents(kafka(), topic, 2, {
    events,
    profiles: Math.ceil(events / 2),
    segments,
    removeRatio: 0.25,
    reentry: false,
    seed: 11,
    start: Date.now(),
  });

describe('configs rendered by the helm chart', () => {
  for (const [label, args] of [
    ['default values', []],
    ['ci/full-values.yaml', ['-f', join(chartDir, 'ci', 'full-values.yaml')]],
  ] as const) {
    it(`start the service against the real broker and the simulator (${label})`, async (t) => {
      const helm = requireTool(t, 'helm');
      if (!helm) return;
      const manifests = helmTemplate(helm, [...args]);
      const cm = manifests.find(
        (m) => m.kind === 'ConfigMap' && typeof (m as { data?: Json }).data?.['config.json'] === 'string',
      ) as { data: Record<string, string> } | undefined;
      assert.ok(cm, 'the render has the config ConfigMap');
      const raw = JSON.parse(cm.data['config.json']!) as Parameters<typeof simulatorFor>[0];
      await runsWith(raw, await simulatorFor(raw), 'helm', 2, sample(60));
    });
  }
});

describe('configs mounted by docker-compose.yml', () => {
  const { services } = readCompose();
  let sim: Simulator;
  before(async () => {
    // The simulator as the compose stack runs it: its token and lists.
    const command = services.simulator!.command;
    const lists = flagValue(command, '--lists')!
      .split(',')
      .map((id) => ({ id, name: `List ${id}` }));
    sim = await w.simulator({ apiToken: flagValue(command, '--token')!, lists });
  });

  for (const mounted of mountedConfigs()) {
    it(`start the service with ${mounted.service}'s config and the sample-events job's stream`, async () => {
      const raw: unknown = JSON.parse(readFileSync(mounted.file, 'utf8'));
      // The stream the sample-events job writes, made smaller and sent to the test topic.
      const job = parseProduceSampleArgs(services['sample-events']!.command!.slice(1), {});
      await runsWith(
        raw,
        sim,
        'compose',
        job.partitions,
        async (topic, segments) => {
          assert.deepEqual(
            job.segments.filter((s) => !segments.includes(s)),
            [],
            'every sample segment has an export',
          );
          return produceSampleEvents(kafka(), topic, job.partitions, {
            events: 60,
            profiles: 20,
            segments: job.segments,
            removeRatio: 0.25,
            reentry: false,
            seed: job.seed,
            start: Date.now(),
          });
        },
        mounted.env,
      );
    });
  }
});
