import type { Verdict } from './classify.js';
import type { AcApi } from './client.js';

/**
 * One erasure request for one account: find the contact by email (GET /contacts?email=), then
 * DELETE /contacts/{id}, one request per step from the account's budget. Pure apart from the client it is handed:
 * the account's loop (account-delivery.ts) decides when a step may go (its write-ahead marker acknowledged, no import
 * of the email in the air, budget left) and carries out what a step answers.
 */

/** deleted: the contact was deleted now; absent: the account has no contact with this email (nothing to delete). */
export type ErasureResult = 'deleted' | 'absent';

export type ErasureStep =
  /** The account asked to wait or is failing: the same step runs again later. */
  | { kind: 'wait'; verdict: Exclude<Verdict, { kind: 'ok' }> }
  | { kind: 'progress' }
  | { kind: 'done'; result: ErasureResult }
  /** ActiveCampaign refused the erasure for good: dead-letter the event (`dlq replay` retries it). */
  | { kind: 'refused'; message: string };

export class ErasureJob<R> {
  private contactId: string | undefined;
  /** Not before this time (a throttled or failing account). */
  notBefore = 0;
  busy = false;
  /** False until its write-ahead marker is acknowledged: nothing is deleted before the ledger knows of the erasure. */
  armed: boolean;

  constructor(
    readonly email: string,
    readonly occurredAt: number,
    readonly ref: R,
    armed = true,
  ) {
    this.armed = armed;
  }

  async step(client: AcApi): Promise<ErasureStep> {
    if (this.contactId === undefined) {
      const a = await client.findContact(this.email);
      if (a.verdict.kind !== 'ok') return refusedOrWait(a.verdict, 'the contact lookup before an erasure was refused');
      // Only the contact with this very email: another person must never be deleted for a partial match.
      const found = a.body?.contacts?.find((c) => c.email.toLowerCase() === this.email);
      if (!found) return { kind: 'done', result: 'absent' };
      this.contactId = String(found.id);
      return { kind: 'progress' };
    }
    const a = await client.deleteContact(this.contactId);
    if (a.verdict.kind === 'ok') return { kind: 'done', result: 'deleted' };
    // Deleted meanwhile (by someone else, or by an earlier attempt whose answer was lost): the erasure holds.
    if (a.status === 404) return { kind: 'done', result: 'absent' };
    // The lookup just passed with the same token, so a 403 here refuses the delete itself (no delete permission,
    // or the account's monthly delete limit): dead-letter it rather than pause the whole account.
    if (a.status === 403)
      return {
        kind: 'refused',
        message:
          'HTTP 403: ActiveCampaign refused to delete the contact (the API user may lack ' +
          'the Contact Delete permission, or the account reached its monthly delete limit)',
      };
    return refusedOrWait(a.verdict, 'ActiveCampaign refused to delete the contact');
  }
}

function refusedOrWait(v: Exclude<Verdict, { kind: 'ok' }>, what: string): ErasureStep {
  if (v.kind === 'throttled' || v.kind === 'account') return { kind: 'wait', verdict: v };
  return { kind: 'refused', message: `${what}: ${v.kind === 'reject' ? v.message : 'the request was refused'}` };
}
