/** Overdue answers in a row that make the latency of the next one the usual latency. */
const LATE_ANSWERS_TO_FOLLOW = 16;

/**
 * The per-second request budget as ActiveCampaign's bucket may have seen it, judged from the answers. Pure: time
 * comes in as arguments.
 *
 * The request pace (budget.ts) spaces the sends. ActiveCampaign counts a request when it arrives, somewhere between
 * its send and its answer, and requests held up on the way (a stalled server, a slow network) arrive together. An
 * account that stalls for about `burst` request gaps counts the requests in flight at once when it resumes, and the
 * next one, which went the moment their answers were back, found the bucket empty: a 429. (At the benchmark's time
 * scale of 4, a stall of 0.25 real s is five gaps; test/deliver/account.test.ts shows it.)
 *
 * So a request also waits until the bucket could take it had every answered request arrived as late as its answer,
 * and, once one request in flight is overdue (held up on the way: heldUp()), every request in flight arrive now: the
 * pace replayed over those times (GCRA's theoretical arrival time), less the
 * `burst - 1` tokens the bucket holds beyond this request's. Answers that come back no closer together than the
 * pace never hold a request up, whatever their latency, and neither do requests in flight for their usual time:
 * charging every request in flight cost a sixth of the rate at a latency of 1 s. The rate modelled is the pace's own
 * (at most ActiveCampaign's), so the model refills no faster than the bucket does.
 */
export class RequestArrivals {
  /** When the modelled bucket is full again if nothing else arrives: the last answer's pace slot, or earlier. */
  private answeredUntil = -Infinity;
  /** Send times of the requests in flight. */
  private readonly inFlight = new Map<number, number>();
  private nextId = 0;
  /** The usual latency (a moving average of the answers not overdue), ms; undefined before the first answer. */
  private latency: number | undefined;
  /** Overdue answers in a row. */
  private lateAnswers = 0;

  constructor(private readonly burst: number) {}

  /** A request went out at `now`: the id to answer it with. */
  sent(now: number): number {
    const id = this.nextId++;
    this.inFlight.set(id, now);
    return id;
  }

  /** A request's answer (or its failure) came back at `now`; `gapMs` is the request pace's gap at that time. */
  answered(id: number, now: number, gapMs: number): void {
    const sentAt = this.inFlight.get(id);
    this.inFlight.delete(id);
    if (sentAt !== undefined) {
      const sample = Math.max(0, now - sentAt);
      // A stall's long answers leave the usual latency alone (the stall's last requests must still look overdue),
      // unless answers keep coming that late: then the latency rose for good, and is followed.
      if (this.latency === undefined || this.lateAnswers >= LATE_ANSWERS_TO_FOLLOW) {
        this.latency = sample;
        this.lateAnswers = 0;
      } else if (sample > this.overdueAfter(gapMs)) this.lateAnswers++;
      else {
        this.latency += (sample - this.latency) / 16;
        this.lateAnswers = 0;
      }
    }
    this.answeredUntil = Math.max(this.answeredUntil, now) + gapMs;
  }

  /** When one more request may go: `now` or later. */
  readyAt(now: number, gapMs: number): number {
    const held = this.heldUp(now, gapMs) ? this.inFlight.size : 0;
    const until = held ? Math.max(this.answeredUntil, now) + held * gapMs : this.answeredUntil;
    return Math.max(now, until - (this.burst - 1) * gapMs);
  }

  /**
   * Whether a request in flight is overdue (in flight for longer than twice the usual latency and a gap), or the
   * last answer was. Then the account (or the way to it) stalls, and every request in flight may be held up with
   * it, the ones sent just now too: all may arrive together. Before the first answer the usual latency is unknown,
   * and nothing is overdue.
   */
  private heldUp(now: number, gapMs: number): boolean {
    if (this.latency === undefined) return false;
    if (this.lateAnswers > 0) return true; // the last answer was overdue: what went with it may still be on its way
    const overdueAfter = this.overdueAfter(gapMs);
    for (const sentAt of this.inFlight.values()) if (now - sentAt > overdueAfter) return true;
    return false;
  }

  private overdueAfter(gapMs: number): number {
    return 2 * (this.latency ?? 0) + gapMs;
  }
}
