/**
 * The per-second request budget as ActiveCampaign's bucket may have seen it, judged from the answers. Pure: time
 * comes in as arguments.
 *
 * The request pace (budget.ts) spaces the sends. ActiveCampaign counts a request when it arrives, somewhere between
 * its send and its answer, and requests held up on the way (a stalled server, a slow network) arrive together. Sends
 * paced at the rate fit a bucket of `burst` tokens only while none arrives about `burst - 1` gaps later than the
 * ones sent after it. An account that stalls that long counts the requests in flight at once when it resumes, and
 * the next one, which goes the moment their answers are back, finds the bucket empty: a 429. (At the benchmark's
 * time scale of 4, a stall of 0.25 real s is five gaps; test/deliver/account.test.ts shows it.)
 *
 * So a request also waits until the bucket could take it even if every request still in flight arrived with it and
 * every answered one as late as its answer: the pace replayed over the answer times (GCRA's theoretical arrival
 * time), less the `burst - 1 - inFlight` tokens the bucket holds beyond this request's; and at most `burst` are in
 * flight. Answers that come back no closer together than the pace never hold a request up: the sends' own pace is
 * the tighter bound then. The rate modelled is the pace's own (at most ActiveCampaign's), so the model refills no
 * faster than the bucket does.
 */
export class RequestArrivals {
  private inFlight = 0;
  /** When the modelled bucket is full again if nothing else arrives: the last answer's pace slot, or earlier. */
  private answeredUntil = -Infinity;

  constructor(private readonly burst: number) {}

  /** A request went out. */
  sent(): void {
    this.inFlight++;
  }

  /** A request's answer (or its failure) came back at `now`; `gapMs` is the request pace's gap at that time. */
  answered(now: number, gapMs: number): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    this.answeredUntil = Math.max(this.answeredUntil, now) + gapMs;
  }

  /**
   * When one more request may go: `now` or later. With `burst` requests in flight, one gap later (an answer may
   * have come by then).
   */
  readyAt(now: number, gapMs: number): number {
    if (this.inFlight >= this.burst) return now + gapMs;
    return Math.max(now, this.answeredUntil - (this.burst - 1 - this.inFlight) * gapMs);
  }
}
