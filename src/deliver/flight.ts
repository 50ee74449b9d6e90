/** Requests in the air: the scheduler reads them, the requests keep them. */
export interface Flight {
  requests: number;
  /** Bulk imports sent and not yet answered. */
  sending: number;
}

/**
 * One request of a job (a re-entry, an erasure, a tag removal), the budget already spent by the loop: the job is
 * busy and the request counted in flight while it is out, whatever it answers.
 */
export async function oneRequest<T>(
  job: { busy: boolean },
  flight: { requests: number },
  request: () => Promise<T>,
): Promise<T> {
  job.busy = true;
  flight.requests++;
  try {
    return await request();
  } finally {
    flight.requests--;
    job.busy = false;
  }
}

/**
 * One request counted in flight while it is out. Unlike oneRequest, the job stays busy until the caller
 * has handled the answer (it clears `busy`): another answer handled in between (a page ending a read) must not
 * answer an entry whose lookup is still being handled.
 */
export async function asked<T>(
  job: { busy: boolean },
  flight: { requests: number },
  request: () => Promise<T>,
): Promise<T> {
  job.busy = true;
  flight.requests++;
  try {
    return await request();
  } catch (err) {
    job.busy = false;
    throw err;
  } finally {
    flight.requests--;
  }
}
