#!/usr/bin/env node
// First: kafkajs's producers must load with our partition grouping (src/kafka/partition-grouping.ts).
import '../kafka/partition-grouping.js';
import { SyncError } from '../domain/errors.js';
import { scrubLine } from '../observability/logger.js';
import { checkConfigCommand } from './check-config.js';
import { demoCommand } from '../dev/cli/demo.js';
import { dlqCommand } from './dlq.js';
import { ledgerMigrateCommand } from './ledger-migrate.js';
import { produceSampleCommand } from '../dev/cli/produce-sample.js';
import { replayCommand } from './replay.js';
import { runCommand } from './run.js';
import { simulatorCommand } from '../dev/cli/simulator.js';
import { statusCommand } from './status.js';
import { traceCommand } from './trace.js';
// Before any command builds a Kafka client: every command reads all four compression codecs.
import '../kafka/codecs.js';

const commands: Record<string, (argv: string[]) => Promise<number>> = {
  run: runCommand,
  demo: demoCommand,
  simulator: simulatorCommand,
  'check-config': checkConfigCommand,
  'produce-sample': produceSampleCommand,
  status: statusCommand,
  replay: replayCommand,
  dlq: dlqCommand,
  trace: traceCommand,
  'ledger-migrate': ledgerMigrateCommand,
};

const USAGE =
  `usage: ac-list-sync <command> [options]
  run --config FILE            the live sync
  check-config --config FILE   validate a config file offline (--online: also against Kafka and each account)
  demo                         local broker + simulator + sample events, end to end
  simulator [--port N]         the ActiveCampaign simulator, standalone
  produce-sample --topic T     write sample membership changes to a topic
  status [--url URL] [--once]  one-screen summary of a running instance, from its /metrics
  replay --config FILE --from earliest|<time>|<p:o,...>  a bounded run over past events, beside the live sync (--help)
  trace --email E --config FILE  what the membership ledger holds for a contact and where its events went (--list L)
  dlq inspect|replay --config FILE   dead letters by stage and code; re-publish them to their source topic after a fix
  ledger-migrate --config FILE --to TEMPLATE  copy the ledger into a new topic with hashed keys (ledger.hashKey), ` +
  'then delete the old one';

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const command = name ? commands[name] : undefined;
  if (!command) {
    process.stderr.write(`${USAGE}\n`);
    return name === undefined || name === '--help' ? 0 : 2;
  }
  return command(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    // A config or usage error (ours, or node:util parseArgs's ERR_PARSE_ARGS_*) is one line naming the key or
    // option, exit 2; anything else keeps its stack for the operator, exit 1.
    const usage =
      err instanceof SyncError || String((err as { code?: unknown })?.code ?? '').startsWith('ERR_PARSE_ARGS');
    const message = usage ? (err as Error).message : String((err as Error)?.stack ?? err);
    // Not a pino line but a log line all the same: the secrets read so far and any email are scrubbed from it.
    process.stderr.write(`${scrubLine(`ac-list-sync: ${message}`)}\n`);
    process.exit(usage ? 2 : 1);
  },
);
