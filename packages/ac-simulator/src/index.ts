import type { AddressInfo } from 'node:net';
import { resolveOptions, type SimulatorOptions, type SimulatorOptionsInput, type SimulatorPatch } from './options.js';
import { createSimServer } from './server.js';
import type { PersonChange } from './person.js';
import { SimState, type SeedContact, type SimulatorSnapshot } from './state.js';

/**
 * The ActiveCampaign simulator: a real HTTP server (node:http) that behaves like one ActiveCampaign account as
 * CONTRACT.md describes it. The API lives under `${url}/api/3`; inspection and control under `${url}/__sim/`.
 *
 *   const sim = await startSimulator({ timeScale: 10 });
 *   sim.seedContact({ email: 'opted-out@example.com', lists: { '1': 2 } });
 *   // … point the client at sim.url with Api-Token sim.options.apiToken …
 *   sim.snapshot().counters.violations;
 *   await sim.close();
 */
export type {
  ImportDelays,
  SimulatorLimits,
  SimulatorOptions,
  SimulatorOptionsInput,
  SimulatorPatch,
} from './options.js';
export { DEFAULT_OPTIONS } from './options.js';
export type { PersonChange } from './person.js';
export type { ContactsCreated, SeedContact, SimulatorCounters, SimulatorSnapshot } from './state.js';
export type { ChangeSource, MemberView } from './store.js';

export interface Simulator {
  /** e.g. http://127.0.0.1:54321 (the API lives under `${url}/api/3`). */
  readonly url: string;
  /** The options in force (a new object after each configure()). */
  readonly options: SimulatorOptions;
  /** Change behaviour at run time (outage on/off, token, limits…); throws an Error naming bad keys. */
  configure(patch: SimulatorPatch): void;
  /** Returns the contact id. Status 2 in `lists` is an opt-out by the contact themselves. */
  seedContact(c: SeedContact): string;
  /** A person's own change, as POST /__sim/membership: {email, list, status: 1 | 2, source: 'form' | 'person'}. */
  personChange(change: { email: string; list: string; status: 1 | 2; source: 'form' | 'person' }): PersonChange;
  /** Lets every stuck import finish now (completed ones apply their contacts), as POST /__sim/imports/finish-stuck. */
  finishStuckImports(): number;
  /** Same JSON as GET /__sim/state. */
  snapshot(): SimulatorSnapshot;
  /** Idempotent. */
  close(): Promise<void>;
}

export async function startSimulator(opts: SimulatorOptionsInput = {}): Promise<Simulator> {
  const state = new SimState(resolveOptions(opts));
  const server = createSimServer(state);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(state.options.port, state.options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  const url = `http://${host}:${port}`;
  state.apiUrl = `${url}/api/3`;
  state.options = { ...state.options, port };

  let closing: Promise<void> | undefined;
  return {
    url,
    get options() {
      return state.options;
    },
    configure: (patch) => state.configure(patch),
    seedContact: (c) => state.seedContact(c),
    personChange: (c) => state.personChange(c),
    finishStuckImports: () => state.imports.finishStuck(),
    snapshot: () => state.snapshot(),
    close() {
      closing ??= (async () => {
        state.imports.close();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
      })();
      return closing;
    },
  };
}
