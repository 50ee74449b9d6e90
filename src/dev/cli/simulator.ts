import { parseArgs } from 'node:util';
import {
  type Simulator,
  startSimulator,
  type SimulatorOptionsInput,
} from '../../../packages/ac-simulator/src/index.js';
import { startSchemaRegistry, type SchemaRegistrySim } from '../../../packages/ac-simulator/src/registry.js';

/**
 * `ac-list-sync simulator`: run the ActiveCampaign simulator for local development until SIGINT/SIGTERM.
 *
 *   --port N          listen port (default 0: any free port)
 *   --host H          listen address (default 127.0.0.1)
 *   --token T         the Api-Token it accepts (default sim-token)
 *   --time-scale K    run every limit and delay K times faster (default 1)
 *   --no-limits       no rate limits at all (benchmarks)
 *   --lists 1,2,3     ids of the seeded lists (default 1..5)
 *   --registry-port N also run the schema registry (Confluent REST subset) on port N (0: any free port)
 *
 * Returns the exit code: 0 after a clean stop, 2 for bad arguments.
 */
const USAGE =
  'usage: simulator [--port N] [--host H] [--token T] [--time-scale ' +
  'K] [--no-limits] [--lists 1,2,3] [--registry-port N]';

function parse(argv: string[]): { opts: SimulatorOptionsInput; registryPort: number | undefined } {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      token: { type: 'string' },
      'time-scale': { type: 'string' },
      'no-limits': { type: 'boolean' },
      lists: { type: 'string' },
      'registry-port': { type: 'string' },
    },
  });
  const number = (flag: string, raw: string | undefined): number | undefined => {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new Error(`--${flag} must be a number, got "${raw}"`);
    return n;
  };
  const opts: SimulatorOptionsInput = {};
  const port = number('port', values.port);
  const timeScale = number('time-scale', values['time-scale']);
  if (port !== undefined) opts.port = port;
  if (timeScale !== undefined) opts.timeScale = timeScale;
  if (values.host !== undefined) opts.host = values.host;
  if (values.token !== undefined) opts.apiToken = values.token;
  if (values['no-limits']) opts.limits = { enabled: false };
  if (values.lists !== undefined) {
    opts.lists = values.lists
      .split(',')
      .map((id) => id.trim())
      .filter((id) => id !== '')
      .map((id) => ({ id, name: `Simulated list ${id}` }));
  }
  return { opts, registryPort: number('registry-port', values['registry-port']) };
}

export async function simulatorCommand(argv: string[]): Promise<number> {
  let sim: Simulator | undefined;
  let registry: SchemaRegistrySim | undefined;
  try {
    const { opts, registryPort } = parse(argv);
    sim = await startSimulator(opts);
    if (registryPort !== undefined)
      registry = await startSchemaRegistry({ port: registryPort, host: sim.options.host });
  } catch (err) {
    await sim?.close();
    process.stderr.write(`simulator: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { timeScale, limits, apiToken } = sim.options;
  const speed = timeScale === 1 ? '' : `, time scale ${timeScale}`;
  process.stderr.write(
    `ActiveCampaign simulator listening on ${sim.url}/api/3 with Api-Token "${apiToken}"` +
      `${limits.enabled ? '' : ', rate limits off'}${speed}; state at ${sim.url}/__sim/state. Stop with Ctrl-C.\n`,
  );
  if (registry) process.stderr.write(`Schema registry (Confluent REST subset) listening on ${registry.url}.\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await registry?.close();
  await sim.close();
  process.stderr.write('ActiveCampaign simulator stopped.\n');
  return 0;
}
