import type { Admin } from 'kafkajs';
import type { Logger } from 'pino';
import type { AcApi } from '../deliver/client.js';
import type { Metrics } from './metrics.js';

/**
 * What /readyz answers, kept fresh by two probes that run every `intervalMs`:
 *   - Kafka: the group's committed offsets against the log end offsets (so it also refreshes consumer lag, even
 *     while fetching is paused). A failure means the cluster is not reachable.
 *   - each account: one cheap authenticated read (GET /fields?limit=1), paid from the account's own rate budget,
 *     so an idle service still notices a revoked token. 401/403 = the token is refused.
 * Ready = started, Kafka reachable, the consumer connected, every token accepted, no account failing, nothing fatal.
 */
export interface ReadinessStatus {
  ready: boolean;
  /** Sentences, one per reason for not being ready. */
  reasons: string[];
}

/** The parts of an account the token probe needs (AccountDelivery has them). */
export interface ProbedAccount {
  readonly down: boolean;
  /** What delivery fails with while down: AUTH_FAILED is a token refused on a delivery request. */
  readonly failing?: string | undefined;
  /** Taken just before the token probe is sent: the account's failures seen so far. */
  sendMark?(): number;
  /** The token probe, sent with `sent` (sendMark()), was accepted: a delivery paused for a refused token tries again. */
  answeredElsewhere?(sent: number): void;
  /** The probe met a 429: handled as the account handles its own (metrics, the budget, on the budget's clock). */
  throttledElsewhere?(code: string, retryAfterMs: number): void;
  /** Resolves after `ms` of the budget's time (a scaled clock's ms are shorter than real ones). */
  budgetWait?(ms: number): Promise<void>;
  /** The time the account's budget runs on (a scaled clock in the benchmark and the demo); Date.now otherwise. */
  budgetNow?(): number;
  /** The account's own client: its budget counts the probe in flight like any request (else `clients`' is used). */
  readonly client?: Pick<AcApi, 'fields'>;
  readonly budget: {
    readyAt(kind: 'request', now: number): number;
    spend(kind: 'request', now: number): void;
    throttled(retryAfterMs: number, now: number): void;
    /** Whether a Retry-After holds every request at `now`. */
    blocked(now: number): boolean;
    /** Whether answers that came back together hold requests at `now` (the probe then claims again). */
    bunched?(now: number): boolean;
  };
}

export interface ReadinessOptions {
  /** An admin client with few retries: a dead broker must fail the probe quickly. */
  admin: Admin;
  groupId: string;
  topics: string[];
  fromBeginning: boolean;
  clients: ReadonlyMap<string, Pick<AcApi, 'fields'>>;
  accounts: ReadonlyMap<string, ProbedAccount>;
  consumer: { readonly connected: boolean };
  intervalMs: number;
  metrics: Metrics;
  log: Logger;
  now?: () => number;
}

type TokenState = 'unknown' | 'accepted' | 'refused' | 'unreachable';

export class Readiness {
  private kafka: 'unknown' | 'reachable' | string = 'unknown';
  private readonly tokens = new Map<string, { state: TokenState; detail: string }>();
  private fatalReason: string | undefined;
  private adminConnected = false;
  private kafkaCall: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  private readonly now: () => number;

  constructor(private readonly o: ReadinessOptions) {
    this.now = o.now ?? Date.now;
    for (const name of o.clients.keys()) this.tokens.set(name, { state: 'unknown', detail: '' });
  }

  /** Runs the probes now, then every intervalMs. */
  start(): Promise<void> {
    return this.round();
  }

  /** A state the service cannot leave by itself (e.g. the consumer crashed for good). */
  fatal(reason: string): void {
    this.fatalReason ??= reason;
    this.o.log.error({ reason }, 'The service is in a fatal state and reports not ready');
    this.publish();
  }

  status(): ReadinessStatus {
    const reasons: string[] = [];
    if (this.fatalReason) reasons.push(`fatal: ${this.fatalReason}`);
    if (this.kafka === 'unknown') reasons.push('Kafka has not been probed yet');
    else if (this.kafka !== 'reachable') reasons.push(`Kafka is not reachable: ${this.kafka}`);
    if (!this.o.consumer.connected) reasons.push('the consumer is not connected to Kafka');
    for (const [name, t] of this.tokens) {
      if (t.state === 'unknown') reasons.push(`connection "${name}": the token has not been checked yet`);
      if (t.state === 'refused')
        reasons.push(`connection "${name}": ActiveCampaign refused the API token (${t.detail})`);
      if (t.state === 'unreachable')
        reasons.push(`connection "${name}": ActiveCampaign is not reachable (${t.detail})`);
    }
    for (const [name, a] of this.o.accounts) {
      if (!a.down) continue;
      // Delivery met a refused token before the probe did: the same reason, from the account's own answer.
      if (a.failing === 'AUTH_FAILED' && this.tokens.get(name)?.state !== 'refused')
        reasons.push(`connection "${name}": ActiveCampaign refused the API token (on a delivery request)`);
      reasons.push(`connection "${name}": delivery is failing and backing off`);
    }
    return { ready: reasons.length === 0, reasons };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    // A probe in flight is not waited for long: its answer no longer matters.
    await Promise.race([this.running, new Promise((r) => setTimeout(r, 1_000).unref())]);
    if (this.adminConnected) await this.o.admin.disconnect().catch(() => undefined);
  }

  private round(): Promise<void> {
    this.running = (async () => {
      await Promise.all([this.probeKafka(), ...[...this.o.clients.keys()].map((name) => this.probeToken(name))]);
      this.publish();
    })();
    void this.running.finally(() => {
      if (!this.closed) this.timer = setTimeout(() => void this.round(), this.o.intervalMs).unref();
    });
    return this.running;
  }

  private publish(): void {
    this.o.metrics.ready.set(this.status().ready ? 1 : 0);
  }

  /**
   * kafkajs retries a dead cluster for a minute or more inside one admin call, so the probe waits for it at most
   * the probe interval (2 to 10 s) and never starts a second call while one is still out.
   */
  private async probeKafka(): Promise<void> {
    const timeoutMs = Math.min(Math.max(this.o.intervalMs, 2_000), 10_000);
    this.kafkaCall ??= this.checkKafka().finally(() => (this.kafkaCall = undefined));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.kafkaCall.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) this.kafkaDown(`no answer within ${timeoutMs} ms`);
  }

  private kafkaDown(reason: string): void {
    if (this.kafka === 'reachable' || this.kafka === 'unknown')
      this.o.log.warn({ reason }, 'Kafka is not reachable (not ready)');
    this.kafka = reason || 'no answer';
    this.o.metrics.kafkaReachable.set(0);
    this.o.metrics.probeFailures.inc({ probe: 'kafka' });
  }

  private async checkKafka(): Promise<void> {
    const { admin, metrics } = this.o;
    try {
      if (!this.adminConnected) {
        await admin.connect();
        this.adminConnected = true;
      }
      const groups = await admin.fetchOffsets({ groupId: this.o.groupId, topics: this.o.topics });
      const committed = new Map(groups.map((t) => [t.topic, t.partitions]));
      for (const topic of this.o.topics) {
        const ends = await admin.fetchTopicOffsets(topic);
        const groupOffsets = committed.get(topic) ?? [];
        for (const end of ends) {
          const c = Number(groupOffsets.find((p) => p.partition === end.partition)?.offset ?? -1);
          const from = c >= 0 ? c : this.o.fromBeginning ? Number(end.low) : Number(end.high);
          metrics.consumerLag.set({ topic, partition: String(end.partition) }, Math.max(0, Number(end.high) - from));
        }
      }
      if (this.kafka !== 'reachable' && this.kafka !== 'unknown') this.o.log.info('Kafka is reachable again');
      this.kafka = 'reachable';
      metrics.kafkaReachable.set(1);
    } catch (err) {
      this.kafkaDown((err as Error).message);
      if (this.adminConnected) {
        this.adminConnected = false;
        await admin.disconnect().catch(() => undefined);
      }
    }
  }

  /**
   * Takes the budget's next request slot for the probe, paid like every other request. The slot is claimed at once
   * (spent at its future time), so the account's loop, which takes every slot it can, cannot starve the probe in a
   * budget that 429s slowed down. A slot further away than a probe deadline (a long Retry-After) is not claimed:
   * the next round asks again. A probe whose wait ended more than half a request gap late claims again (at most 3
   * times), so it never goes closer to the loop's next request than the pace allows. Resolves the budget time the
   * probe may go at, or undefined when it should not go.
   */
  private async claimSlot(account: ProbedAccount, at: () => number): Promise<number | undefined> {
    const { budget } = account;
    const deadlineMs = Math.max(this.o.intervalMs, 5_000);
    const wait = (ms: number) => (account.budgetWait ? account.budgetWait(ms) : new Promise((r) => setTimeout(r, ms)));
    for (let claims = 0; claims < 3 && !this.closed; claims++) {
      const start = at();
      const slot = budget.readyAt('request', start);
      if (slot - start > deadlineMs) return undefined;
      budget.spend('request', slot);
      const gap = budget.readyAt('request', slot) - slot;
      for (let tries = 0; at() < slot && tries < 50 && !this.closed; tries++)
        await wait(Math.min(slot - at(), deadlineMs) + 1);
      const now = at();
      if (this.closed || now < slot) return undefined;
      // A Retry-After that arrived while waiting holds for the probe too. Answers that came back together while it
      // waited hold it until the bucket could take it: it claims again.
      if (budget.blocked(now)) return undefined;
      if (budget.bunched?.(now)) continue;
      if (now - slot <= gap / 2) return now;
    }
    return undefined;
  }

  private async probeToken(name: string): Promise<void> {
    const account = this.o.accounts.get(name);
    const client = account?.client ?? this.o.clients.get(name)!;
    const budget = account?.budget;
    // The budget's own time: with a scaled clock its times are not Date.now's.
    const at = () => account?.budgetNow?.() ?? this.now();
    const claimed = account ? await this.claimSlot(account, at) : at();
    if (claimed === undefined) return;
    const sent = account?.sendMark?.() ?? 0;
    const answer = await client.fields(0, 1);
    const v = answer.verdict;
    const before = this.tokens.get(name)!.state;
    let next: { state: TokenState; detail: string };
    if (v.kind === 'ok') {
      next = { state: 'accepted', detail: '' };
      account?.answeredElsewhere?.(sent);
    } else if (v.kind === 'account' && v.code === 'AUTH_FAILED')
      next = { state: 'refused', detail: `HTTP ${answer.status}` };
    else if (v.kind === 'throttled') {
      if (account?.throttledElsewhere) account.throttledElsewhere(v.code, v.retryAfterMs);
      else {
        budget?.throttled(v.retryAfterMs, at());
        this.o.metrics.throttled.inc({ connection: name, code: v.code });
        this.o.metrics.retryAfterSeconds.inc({ connection: name }, v.retryAfterMs / 1000);
      }
      return; // says nothing about the token: keep the last state
    } else
      next = {
        state: 'unreachable',
        detail: answer.status ? `HTTP ${answer.status}` : v.kind === 'account' ? v.code : 'no answer',
      };
    this.tokens.set(name, next);
    if (next.state === 'refused') this.o.metrics.tokenAccepted.set({ connection: name }, 0);
    if (next.state === 'accepted') this.o.metrics.tokenAccepted.set({ connection: name }, 1);
    if (next.state !== 'accepted') this.o.metrics.probeFailures.inc({ probe: 'token' });
    if (next.state !== before && !(before === 'unknown' && next.state === 'accepted')) {
      const line =
        next.state === 'accepted'
          ? 'The token check passes again'
          : next.state === 'refused'
            ? 'ActiveCampaign refused the API token (not ready)'
            : 'ActiveCampaign is not reachable for the token check (not ready)';
      (next.state === 'accepted' ? this.o.log.info : this.o.log.warn).call(
        this.o.log,
        { connection: name, detail: next.detail },
        line,
      );
    }
  }
}
