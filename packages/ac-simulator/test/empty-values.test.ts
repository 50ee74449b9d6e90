import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startSimulator, type Simulator } from '../src/index.js';
import { api, finished } from './helpers.js';

const started: Simulator[] = [];
after(() => Promise.all(started.map((s) => s.close())));

describe('emptyBulkValueClears', () => {
  for (const clears of [false, true]) {
    it(
      `${clears ? 'clears' : 'keeps'} a name, phone or field sent as ` +
        `"" in a bulk import (${clears}); a missing one is kept either way`,
      async () => {
        const s = await startSimulator({
          emptyBulkValueClears: clears,
          limits: { enabled: false },
          importDelaysMs: { statusFalse: 0, waiting: 0, claimed: 0, active: 0 },
        });
        started.push(s);
        const bulk = async (contacts: unknown[]) =>
          finished(s, (await api(s, 'POST', '/import/bulk_import', { body: { contacts } })).body.batchId);
        const full = {
          email: 'e@example.com',
          first_name: 'Eve',
          last_name: 'Ng',
          phone: '+31 6',
          fields: [
            { id: 1, value: 'gold' },
            { id: 2, value: 'NL' },
          ],
        };
        await bulk([full, { email: 'other@example.com' }]);
        await bulk([
          { email: 'e@example.com', first_name: '', phone: '', fields: [{ id: 1, value: '' }] },
          { email: 'other@example.com' },
        ]);
        const r = await api(s, 'GET', '/contacts?email=e@example.com');
        const c = r.body.contacts[0];
        assert.deepEqual([c.firstName, c.lastName, c.phone], clears ? ['', 'Ng', ''] : ['Eve', 'Ng', '+31 6']);
        const synced = await api(s, 'POST', '/contact/sync', { body: { contact: { email: 'e@example.com' } } });
        const fields = Object.fromEntries(
          synced.body.fieldValues.map((fv: { field: string; value: string }) => [fv.field, fv.value]),
        );
        assert.deepEqual(fields, clears ? { '1': '', '2': 'NL' } : { '1': 'gold', '2': 'NL' });
      },
    );
  }
});
