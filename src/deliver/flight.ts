/** Requests in the air: the scheduler reads them, the requests keep them. */
export interface Flight {
  requests: number;
  /** Bulk imports sent and not yet answered. */
  sending: number;
}

/**
 * One request of a job (a re-entry, an erasure, a tag removal, a lookup), the budget already spent by the loop: the
 * job is busy and the request counted in flight while it is out. With `busyUntilHandled` the job stays busy after an
 * answer until the caller has handled it and clears `busy` (a lookup: another answer handled in between, a page
 * ending a read, must not answer an entry whose lookup is still being handled); a rejection always clears it.
 */
export async function oneRequest<T>(
  job: { busy: boolean },
  flight: { requests: number },
  request: () => Promise<T>,
  busyUntilHandled = false,
): Promise<T> {
  job.busy = true;
  flight.requests++;
  let answered = false;
  try {
    const answer = await request();
    answered = true;
    return answer;
  } finally {
    flight.requests--;
    if (!answered || !busyUntilHandled) job.busy = false;
  }
}
