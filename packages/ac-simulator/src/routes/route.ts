import type { Reply, RequestBody } from '../http.js';
import type { Admission } from '../rate-limit.js';
import type { SimState } from '../state.js';

/** An authenticated /api/3 request that the requests-per-second budget let through. */
export interface ApiRequest {
  method: string;
  url: URL;
  /** Path parameters, e.g. { id: '7' } for /lists/{id}. */
  params: Record<string, string>;
  body: RequestBody;
  admission: Admission;
  /** Monotonic arrival time (the state's clock). */
  now: number;
}

export type Handler = (state: SimState, req: ApiRequest) => Reply;

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path under /api/3 with {param} placeholders; also the key of counters.byEndpoint. */
  template: string;
  handler: Handler;
}

/** `{"message":"No Result found for <type> with id <id>"}` (SPEC 404 shape). */
export function notFound(type: string, id: string): Reply {
  return { status: 404, body: { message: `No Result found for ${type} with id ${id}` } };
}

/** The `errors[]` envelope AC uses on contact and contactList writes. */
export function errors(
  status: number,
  error: { title: string; code: string; error?: string; pointer?: string },
): Reply {
  const { title, code, pointer } = error;
  return {
    status,
    body: {
      errors: [
        {
          title,
          detail: '',
          code,
          ...(error.error ? { error: error.error } : {}),
          ...(pointer ? { source: { pointer } } : {}),
        },
      ],
    },
  };
}
