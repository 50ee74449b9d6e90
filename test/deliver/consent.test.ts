import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  consent,
  consentCases,
  placeOf,
  statusOf,
  type ConsentAction,
  type ConsentCase,
} from '../../src/deliver/consent.js';

/** The README's consent table: `| status | place | reentry true, repeat no | true, yes/unknown | false, no | false, yes/unknown |`. */
function readmeTable(): Map<string, string[]> {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf('<!-- consent-table -->');
  const end = readme.indexOf('<!-- /consent-table -->');
  assert.ok(start > 0 && end > start, 'the README holds the consent table between its markers');
  const rows = new Map<string, string[]>();
  for (const line of readme.slice(start, end).split('\n')) {
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim().replace(/`/g, ''));
    if (cells.length !== 6 || cells[0] === 'status' || cells[0]!.startsWith('-')) continue;
    rows.set(`${cells[0]} ${cells[1]}`, cells.slice(2));
  }
  return rows;
}

const word = (a: ConsentAction) => (a.action === 'dead-letter' ? a.code : a.action);
const column = (c: ConsentCase) => (c.reentry ? 0 : 2) + (c.repeat === 'no' ? 0 : 1);

describe('consent: the decision table', () => {
  it('the README table and consent() agree on every case', () => {
    const table = readmeTable();
    const cases = consentCases();
    assert.equal(cases.length, 5 * 6 * 2 * 3);
    assert.equal(table.size, 30, 'one README row per status and place');
    for (const c of cases) {
      const row = table.get(`${c.status} ${c.place}`);
      assert.ok(row, `a README row for status ${c.status}, ${c.place}`);
      assert.equal(
        row[column(c)],
        word(consent(c)),
        `status ${c.status}, ${c.place}, reentry ${c.reentry}, repeat ${c.repeat}`,
      );
    }
  });

  it('only an unsubscribe inside the window, with repeats known not to move its date, is ever reversed', () => {
    const reversed = consentCases().filter((c) => consent(c).action === 'resubscribe');
    assert.deepEqual(reversed, [{ status: 2, place: 'inside', reentry: true, repeat: 'no' }]);
  });

  it('status 0 and none are never forced to 1: they go by bulk import (or stay out when re-entry is off)', () => {
    for (const c of consentCases().filter((x) => x.status === 0 || x.status === 'none'))
      assert.ok(['import', 'CONSENT_REENTRY_OFF'].includes(word(consent(c))));
  });

  it('defect 1 (the one-sided window): a person who unsubscribed again after the service did stays out', () => {
    // Reproduced against the old check `udate >= sentAt - 5 s`: an unsubscribe dated after the window counted as ours.
    const window = { from: 10_000, to: 20_000 };
    const later = new Date(60_000).toISOString();
    assert.equal(placeOf(later, window), 'after');
    assert.deepEqual(consent({ status: 2, place: placeOf(later, window), reentry: true, repeat: 'no' }), {
      action: 'dead-letter',
      code: 'CONSENT_OPTED_OUT',
    });
  });

  it('where the window cannot tell, the add is dead-lettered CONSENT_UNCERTAIN', () => {
    assert.deepEqual(consent({ status: 2, place: 'inside', reentry: true, repeat: 'yes' }), {
      action: 'dead-letter',
      code: 'CONSENT_UNCERTAIN',
    });
    assert.deepEqual(consent({ status: 2, place: 'inside', reentry: true, repeat: 'unknown' }), {
      action: 'dead-letter',
      code: 'CONSENT_UNCERTAIN',
    });
    assert.deepEqual(consent({ status: 2, place: 'unreadable', reentry: true, repeat: 'no' }), {
      action: 'dead-letter',
      code: 'CONSENT_UNCERTAIN',
    });
  });

  it('reads the status and the date as ActiveCampaign sends them', () => {
    assert.equal(statusOf('2'), 2);
    assert.equal(statusOf(undefined), 'none');
    assert.equal(statusOf('91'), 'none');
    const w = { from: Date.parse('2026-12-01T09:00:00Z'), to: Date.parse('2026-12-01T09:00:10Z') };
    assert.equal(placeOf('2026-12-01 09:00:05', w), 'inside');
    assert.equal(placeOf('2026-12-01T08:59:59+00:00', w), 'before');
    assert.equal(placeOf(null, w), 'unreadable');
    assert.equal(placeOf('2026-12-01 09:00:05', undefined), 'no-window');
  });

  it("the person's own opt-out (the consent topic) wins over any date, and is never re-subscribed", () => {
    const w = { from: Date.parse('2026-12-01T09:00:00Z'), to: Date.parse('2026-12-01T09:00:10Z') };
    assert.equal(placeOf('2026-12-01 09:00:05', w, Date.parse('2026-12-01T08:00:00Z')), 'opted-out');
    assert.equal(placeOf(undefined, undefined, 1), 'opted-out');
    for (const c of consentCases().filter((x) => x.place === 'opted-out')) {
      assert.notEqual(consent(c).action, 'resubscribe');
      if (c.status === 2) assert.deepEqual(consent(c), { action: 'dead-letter', code: 'CONSENT_OPTED_OUT' });
    }
  });
});
