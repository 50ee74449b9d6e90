import {
  startSimulator,
  type SimulatorOptionsInput,
  type SimulatorPatch,
} from '../../packages/ac-simulator/src/index.js';
import { startSchemaRegistry, type SchemaRegistrySim } from '../../packages/ac-simulator/src/registry.js';
import { serveRole } from '../ipc.js';
import { usage } from '../measure.js';
import { checkMembership } from '../outcome.js';
import type { Workload } from '../workload.js';

/**
 * The ActiveCampaign simulator (and, for Avro, the schema registry) in a process of its own, so that the CPU
 * it spends answering is never counted as the service's. `counters` takes a snapshot (it lists every member,
 * so the benchmark asks once, at the end of a run); `membership` checks the members against the workload written
 * (bench/outcome.ts) here, so that only the counts cross the IPC channel.
 */
export interface SimulatorInit {
  options: SimulatorOptionsInput;
  registry: boolean;
}

export interface SimulatorReady {
  url: string;
  apiToken: string;
  registryUrl?: string;
}

serveRole(async (raw) => {
  const init = raw as SimulatorInit;
  const sim = await startSimulator(init.options);
  let registry: SchemaRegistrySim | undefined;
  if (init.registry) registry = await startSchemaRegistry({ host: sim.options.host });
  const ready: SimulatorReady = {
    url: sim.url,
    apiToken: sim.options.apiToken,
    ...(registry ? { registryUrl: registry.url } : {}),
  };
  return {
    ready,
    commands: {
      configure: (patch) => {
        sim.configure(patch as SimulatorPatch);
        return {};
      },
      counters: () => {
        const { counters, imports, contacts } = sim.snapshot();
        return { counters, imports, contacts, usage: usage() };
      },
      usage: () => usage(),
      membership: (slices) => checkMembership(sim.snapshot().lists, slices as Workload[]),
    },
    close: async () => {
      await registry?.close();
      await sim.close();
    },
  };
});
