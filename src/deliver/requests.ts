import type { Logger } from 'pino';
import { entryRefs, type Batch, type ContactBuffer } from '../buffer/contact-buffer.js';
import type { ContactEntry, ListChange } from '../buffer/contact-entry.js';
import { crashPoint } from '../crash-points.js';
import type { Metrics } from '../observability/metrics.js';
import { bulkActions } from './answer.js';
import type { AcApi } from './client.js';
import type { Clock } from './clock.js';
import type { Confirmations, Unconfirmed } from './confirmations.js';
import type { AccountEffects } from './effects.js';
import type { AccountHealth } from './health.js';
import type { LateImports } from './late-imports.js';
import { oneRequest, type Flight } from './flight.js';
import type { DeliveryGate, DeliveryOutcomes } from './outcomes.js';
import type { ReentryItem, ReentryJob } from './reentry.js';

export type { Flight } from './flight.js';

export interface RequestOptions<R> {
  name: string;
  settleOnAccept: boolean;
  client: AcApi;
  gate: DeliveryGate<R> | undefined;
  buffer: ContactBuffer<R>;
  confirms: Confirmations<R>;
  late: LateImports<R>;
  health: AccountHealth;
  /** Halves of bisected batches, sent before anything buffered. */
  bisectQueue: ContactEntry<R>[][];
  clock: Clock;
  outcomes: DeliveryOutcomes<R>;
  metrics: Metrics;
  log: Logger;
  /** Asks the loop to look again (an answer came back). */
  wake: () => void;
}

/**
 * The three requests an account makes (a bulk import, an import poll, a re-entry step; lookups: lookup-queue.ts): each
 * awaits its answer and hands it to the pure parts (answer.ts, confirmations.ts, reentry.ts), whose actions
 * AccountEffects carries out. The budget was spent by the loop before a request starts.
 */
export class AccountRequests<R> {
  constructor(
    private readonly opts: RequestOptions<R>,
    private readonly flight: Flight,
    private readonly fx: AccountEffects<R>,
  ) {}

  async send(batch: Batch<R>, resubscribe: Map<string, ReentryItem<R>[]>): Promise<void> {
    const name = this.opts.name;
    this.flight.requests++;
    this.flight.sending++;
    this.opts.metrics.batchSize.observe({ connection: name }, batch.entries.length);
    this.opts.metrics.batchBytes.observe({ connection: name }, batch.bytes);
    // Write-ahead: the ledger holds the intent of every unsubscribe in this import before it goes out.
    const removes: { email: string; listId: string; change: ListChange<R> }[] = [];
    for (const entry of batch.entries)
      for (const [listId, change] of entry.lists)
        if (change.op === 'remove' && !resubscribe.get(entry.email)?.some((i) => i.listId === listId))
          removes.push({ email: entry.email, listId, change });
    if (removes.length && this.opts.gate) {
      try {
        await this.opts.gate.intend(name, removes, this.opts.clock.epoch());
        crashPoint('intent-written');
      } catch (err) {
        this.flight.requests--;
        this.flight.sending--;
        this.opts.log.warn(
          { err: (err as Error).message, contacts: batch.entries.length },
          'The intents of an import could not be written; it waits in the buffer',
        );
        this.opts.buffer.requeue(batch.entries);
        this.opts.wake();
        return;
      }
    }
    const sent = this.fx.sending();
    const answer = await this.opts.client.bulkImport(batch.body);
    this.flight.requests--;
    this.flight.sending--;
    const now = this.opts.clock.now();
    // Certainly not applied (a timeout or a 5xx may have been): the intents' windows close at once.
    const v = answer.verdict.kind;
    if (removes.length && (v === 'throttled' || v === 'invalid-contacts' || v === 'reject'))
      this.opts.gate?.withdraw?.(name, removes, this.opts.clock.epoch());
    const a = bulkActions(answer.verdict, batch.entries, answer.body?.batchId);
    if (a.answered) this.fx.up(now, sent);
    if (answer.verdict.kind === 'ok') {
      this.opts.metrics.lastFlushSuccess.set({ connection: name }, this.opts.clock.epoch() / 1000);
      crashPoint('import-accepted');
      this.opts.outcomes.accepted(
        batch.entries.flatMap(entryRefs),
        this.opts.clock.epoch(),
        this.opts.settleOnAccept && !!a.accepted,
      );
    }
    if (a.accepted) {
      this.opts.confirms.accept(a.accepted, batch.entries, resubscribe, now, this.opts.clock.epoch());
      for (const entry of batch.entries)
        for (const [listId, change] of entry.lists) this.opts.late.sent(entry.email, listId, change);
    }
    if (a.throttle) this.fx.throttled(a.throttle.code, a.throttle.retryAfterMs, now);
    if (a.pause) this.fx.markDown(a.pause.code, a.pause.message, now);
    if (a.throttle || a.pause)
      this.opts.metrics.retries.inc({ connection: name, reason: (a.throttle ?? a.pause)!.code });
    for (const d of a.dead) this.fx.dead(d.entries, 'deliver', d.code, d.message, d.sent);
    if (a.bisect.length) {
      this.opts.bisectQueue.unshift(...a.bisect);
      this.opts.log.warn(
        { contacts: a.bisect.reduce((n, h) => n + h.length, 0) },
        'ActiveCampaign refused a contact it did not name unambiguously; bisecting the import',
      );
    }
    if (a.requeue.length) this.opts.buffer.requeue(a.requeue);
    this.opts.wake();
  }

  async poll(u: Unconfirmed<R>): Promise<void> {
    u.polling = true;
    this.flight.requests++;
    const sent = this.fx.sending();
    const answer = await this.opts.client.importInfo(u.batchId);
    this.flight.requests--;
    u.polling = false;
    u.polls++;
    const now = this.opts.clock.now();
    const v = answer.verdict;
    if (u.abandonedUntil !== undefined) {
      const status = answer.body?.status;
      if (this.opts.confirms.abandonedAnswered(u, status, now)) {
        const final = status === 'completed' || status === 'failed' || status === 'interrupted' ? status : 'expired';
        // Completed (or interrupted, partly applied) over changes sent since: their newest state goes again.
        this.opts.late.ended(u.batchId, final === 'completed' || final === 'interrupted', this.opts.clock.epoch());
        this.opts.metrics.confirmations.inc({ connection: this.opts.name, status: `abandoned_${final}` });
        this.opts.log.info(
          { batchId: u.batchId, status },
          'An abandoned bulk import ended; its changes had been resubmitted',
        );
      }
    } else if (v.kind === 'ok') {
      this.fx.up(now, sent);
      const step = this.opts.confirms.answered(u, answer.body?.status, answer.body?.failure, now);
      if (step.kind === 'completed') this.fx.completed(u, step.failure);
      else if (step.kind === 'failed') this.fx.importFailed(u.entries, step.status);
      else u.nextPollAt = step.at;
    } else if (v.kind === 'throttled') {
      this.fx.throttled(v.code, v.retryAfterMs, now);
      u.nextPollAt = now + this.opts.clock.fromReal(v.retryAfterMs);
    } else if (v.kind === 'account') {
      this.fx.markDown(v.code, v.message, now);
      u.nextPollAt = now + this.opts.confirms.backoff(u);
    } else {
      this.opts.confirms.end(u, 'unknown');
      this.fx.importFailed(u.entries, 'unknown');
    }
    this.opts.wake();
  }

  async reentryStep(job: ReentryJob<R>): Promise<void> {
    const sent = this.fx.sending();
    const r = await oneRequest(job, this.flight, () => job.step(this.opts.client));
    const now = this.opts.clock.now();
    if (r.kind === 'wait') {
      const v = r.verdict;
      job.notBefore = this.fx.waited(v, now);
      this.opts.metrics.retries.inc({
        connection: this.opts.name,
        reason: v.kind === 'throttled' ? v.code : 'REENTRY',
      });
    } else {
      this.fx.up(now, sent);
      if (r.kind === 'done') this.fx.reentryDone(job, r.outcomes);
    }
    this.opts.wake();
  }
}
