import { json, parseJson, type Reply, type RequestBody } from '../http.js';
import type { SeedContact, SimState } from '../state.js';

/**
 * Inspection and control outside /api/3, without auth, limits or latency:
 *   GET  /__sim/state     the snapshot (lists with members, contacts, counters, imports)
 *   GET  /__sim/config    the options in force
 *   POST /__sim/config    a JSON patch of the options, as Simulator.configure()
 *   POST /__sim/reset     forget contacts, imports, counters and limiter state; seeded lists and fields stay
 *   POST /__sim/contacts  seed a contact, as Simulator.seedContact():
 *                         {"email","firstName"?,"lists"?:{"1":2}} → {"id"}
 *   POST /__sim/membership a person's own change, as Simulator.personChange() (see person.ts):
 *                         {"email","list","status":1|2,"source":"form"|"person"} → {"contact","list","status"}
 *   POST /__sim/imports/finish-stuck  every stuck import finishes now (a completed one applies its contacts)
 *                         → {"finished"}
 */
function withJson(body: RequestBody, act: (value: unknown) => Reply): Reply {
  const parsed = parseJson(body);
  if (!parsed.ok) return json(400, { message: `Invalid request: ${parsed.error}.` });
  try {
    return act(parsed.value);
  } catch (err) {
    return json(400, { message: (err as Error).message });
  }
}

export function control(state: SimState, method: string, path: string, body: RequestBody): Reply {
  const route = `${method} ${path.replace(/\/+$/, '')}`;
  switch (route) {
    case 'GET /__sim/state':
      return json(200, state.snapshot());
    case 'GET /__sim/config':
      return json(200, state.options);
    case 'POST /__sim/config':
      return withJson(body, (patch) => {
        state.configure(patch);
        return json(200, state.options);
      });
    case 'POST /__sim/reset':
      state.reset();
      return json(200, { reset: true });
    case 'POST /__sim/contacts':
      return withJson(body, (seed) => json(201, { id: state.seedContact(seed as SeedContact) }));
    case 'POST /__sim/membership':
      return withJson(body, (change) => json(200, state.personChange(change)));
    case 'POST /__sim/imports/finish-stuck':
      return json(200, { finished: state.imports.finishStuck() });
    default:
      return json(404, { message: `Unknown simulator control route ${route}` });
  }
}
