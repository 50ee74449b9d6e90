/**
 * ActiveCampaign's `unsubscribe` webhook as the simulator sends it: one POST per unsubscribe, form-encoded with
 * PHP-style keys (README, "Opt-out feedback", for the sources). Fields: `type`, `date_time` (ISO 8601 with an
 * offset), `initiated_by` (the source; `public` for a person's own unsubscribe), `initiated_from`, `list`,
 * `contact[id]`, `contact[email]`. Like AC, it never retries; an answer other than 2xx only counts as failed.
 */
export interface UnsubscribeWebhook {
  contactId: string;
  email: string;
  listId: string;
  at: number;
  source: 'public' | 'admin' | 'api' | 'system';
}

export function unsubscribeForm(w: UnsubscribeWebhook): string {
  return new URLSearchParams({
    type: 'unsubscribe',
    date_time: new Date(w.at).toISOString().replace(/\.\d{3}Z$/, '+00:00'),
    initiated_by: w.source,
    initiated_from: w.source === 'public' ? 'campaign' : w.source,
    list: w.listId,
    'contact[id]': w.contactId,
    'contact[email]': w.email,
  }).toString();
}

/** Posts the webhook; resolves true on a 2xx answer, false on anything else (never rejects). */
export async function sendUnsubscribeWebhook(url: string, w: UnsubscribeWebhook): Promise<boolean> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: unsubscribeForm(w),
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer().catch(() => undefined);
    return res.ok;
  } catch {
    return false;
  }
}
