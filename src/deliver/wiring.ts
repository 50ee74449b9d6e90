import type { Logger } from 'pino';
import type { Config, ConnectionConfig } from '../config/schema.js';
import { Backoff } from '../domain/backoff.js';
import { ConfigError } from '../domain/errors.js';
import { sleep } from '../domain/sleep.js';
import type { Metrics } from '../observability/metrics.js';
import { AccountDelivery } from './account-delivery.js';
import { RateBudget } from './budget.js';
import { AcClient, type AcApi, type Answer } from './client.js';
import { scaledClock } from './clock.js';
import { DryRunApi } from './dry-run.js';
import { defaultReadRules } from './member-reads.js';
import type { DeliveryGate, DeliveryOutcomes } from './outcomes.js';
import { secretReader } from '../config/secret.js';

/**
 * One client per connection (account); with `dryRun`, writes are reported instead of sent.
 * Every request is counted in `metrics`.
 */
export function createClients(config: Config, dryRun?: (line: string) => void, metrics?: Metrics): Map<string, AcApi> {
  const clients = new Map<string, AcApi>();
  for (const [name, conn] of Object.entries(config.connections)) {
    const onAnswer = metrics
      ? (endpoint: string, status: number, latencyMs: number) => {
          metrics.apiRequests.inc({ connection: name, endpoint, status: String(status) });
          metrics.apiLatency.observe({ connection: name, endpoint }, latencyMs / 1000);
        }
      : undefined;
    const client = new AcClient({
      apiUrl: conn.apiUrl,
      apiKey: secretReader(conn.apiKey, `connections.${name}.apiKey`),
      timeoutMs: conn.requestTimeoutMs,
      ...(onAnswer ? { onAnswer } : {}),
    });
    clients.set(name, dryRun ? new DryRunApi(client, (line) => dryRun(`[${name}] ${line}`)) : client);
  }
  return clients;
}

export function createAccounts<R>(
  config: Config,
  clients: Map<string, AcApi>,
  outcomes: DeliveryOutcomes<R>,
  gate: DeliveryGate<R> | undefined,
  metrics: Metrics,
  log: Logger,
): Map<string, AccountDelivery<R>> {
  const accounts = new Map<string, AccountDelivery<R>>();
  // delivery.timeScale (the benchmark and the demo only): the whole account runs on a faster clock.
  const clock = scaledClock(config.delivery.timeScale);
  for (const [name, conn] of Object.entries(config.connections)) {
    const budget = new RateBudget(rates(conn));
    const opts = {
      name,
      limits: config.buffer,
      maxUnconfirmed: config.delivery.maxUnconfirmedImports,
      maxConcurrentRequests: config.delivery.maxConcurrentRequests,
      maxImportResubmits: config.delivery.maxImportResubmits,
      pollIntervalMs: config.delivery.pollIntervalMs,
      confirmTimeoutMs: config.delivery.confirmTimeoutMs,
      maxBackoffMs: config.delivery.maxBackoffMs,
      settleOnAccept: config.delivery.settleOnAccept,
      budgetShare: conn.budgetShare,
      reservedShare: conn.replayShare,
      repeatUnsubscribeMovesUdate: config.delivery.repeatUnsubscribeMovesUdate,
      maxProfiles: config.delivery.emailChanges ? config.delivery.maxProfiles : 0,
      profileLookupsPerSecond: config.delivery.profileLookupsPerSecond,
      memberReads: {
        ...defaultReadRules,
        startAt: config.delivery.memberReadAfter,
        maxMembers: config.delivery.memberReadMaxMembers,
      },
      untagLists: new Set(
        config.exports
          .filter((e) => e.connection === name && e.enabled && e.removeTagsOnLeave && e.tags.length)
          .map((e) => e.listId),
      ),
    };
    accounts.set(
      name,
      new AccountDelivery<R>(
        opts,
        budget,
        clients.get(name)!,
        outcomes,
        metrics,
        log.child({ connection: name }),
        clock,
        gate,
      ),
    );
  }
  return accounts;
}

function rates(conn: ConnectionConfig) {
  return {
    requestsPerSecond: conn.requestsPerSecond,
    importsPerMinute: conn.importsPerMinute,
    singleImportsPerMinute: conn.singleImportsPerMinute,
    importScope: conn.importLimitScope,
  };
}

/**
 * Start-up checks against each account: every export's list exists and every perstag resolves to a field id.
 * A missing list or field is a ConfigError (start-up ends); an unreachable account or a refused token is
 * waited for with backoff (the service stays not-ready), never a crash loop.
 */
export async function checkAccounts(
  config: Config,
  clients: Map<string, AcApi>,
  log: Logger,
  signal?: AbortSignal,
): Promise<Map<string, Map<string, number>>> {
  const perstags = new Map<string, Map<string, number>>();
  for (const [name, raw] of clients) {
    const conn = config.connections[name]!;
    const client = paced(raw, conn.requestsPerSecond * config.delivery.timeScale);
    const exports = config.exports.map((e, i) => ({ e, i })).filter(({ e }) => e.connection === name && e.enabled);
    const backoff = new Backoff({ initialMs: 500, maxMs: 30_000 });
    for (;;) {
      try {
        for (const { e, i } of exports) {
          const ans = await client.getList(e.listId);
          if (ans.status === 404)
            throw new ConfigError(`exports.${i}.listId`, `list ${e.listId} does not exist in connection "${name}"`);
          if (ans.verdict.kind !== 'ok')
            throw new Unreachable(
              ans.verdict.kind === 'reject' ? ans.verdict.message : `${ans.verdict.kind}: HTTP ${ans.status}`,
            );
        }
        const fields = await allFields(client);
        const map = new Map<string, number>();
        for (const f of fields) map.set(f.perstag.toUpperCase(), Number(f.id));
        for (const { e, i } of exports) {
          for (const [attr, target] of Object.entries(e.fields)) {
            const ok =
              typeof target === 'number' ? fields.some((f) => Number(f.id) === target) : map.has(target.toUpperCase());
            if (!ok)
              throw new ConfigError(
                `exports.${i}.fields.${attr}`,
                `custom field ${JSON.stringify(target)} does not exist in connection "${name}"`,
              );
          }
        }
        perstags.set(name, map);
        break;
      } catch (err) {
        if (!(err instanceof Unreachable)) throw err;
        const wait = backoff.next();
        log.warn(
          { connection: name, reason: err.message, retryInMs: wait },
          'The ActiveCampaign account is not reachable yet; waiting (not ready)',
        );
        await sleep(wait, signal);
        if (signal?.aborted) throw err;
      }
    }
  }
  return perstags;
}

class Unreachable extends Error {}

/**
 * Start-up reads spend the same account budget as delivery: spaced at the connection's pace, and a 429 (or the
 * bulk "Rate limit exceeded.") waits for its Retry-After and asks again instead of failing the whole check.
 */
function paced(client: AcApi, requestsPerSecond: number): Pick<AcApi, 'getList' | 'fields'> {
  const spacing = 1_000 / requestsPerSecond;
  let next = 0;
  const call = async <T>(fn: () => Promise<Answer<T>>): Promise<Answer<T>> => {
    for (let attempt = 0; ; attempt++) {
      const wait = next - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      next = Math.max(Date.now(), next) + spacing;
      const ans = await fn();
      if (ans.verdict.kind !== 'throttled' || attempt >= 5) return ans;
      next = Date.now() + ans.verdict.retryAfterMs;
    }
  };
  return {
    getList: (id) => call(() => client.getList(id)),
    fields: (offset, limit) => call(() => client.fields(offset, limit)),
  };
}

async function allFields(client: Pick<AcApi, 'fields'>): Promise<{ id: string; perstag: string }[]> {
  const out: { id: string; perstag: string }[] = [];
  for (let offset = 0; ; offset += 100) {
    const ans = await client.fields(offset);
    if (ans.verdict.kind !== 'ok') throw new Unreachable(`fields: HTTP ${ans.status}`);
    const page = ans.body?.fields ?? [];
    out.push(...page);
    if (page.length < 100) return out;
  }
}
