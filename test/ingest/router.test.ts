import { parseMembershipChange } from '../../src/domain/event.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import type { ExportConfig } from '../../src/config/schema.js';
import type { SegmentChange } from '../../src/domain/event.js';
import { Router } from '../../src/ingest/router.js';

/** Exports as the service sees them: through the config schema, defaults filled. */
function exportsOf(exports: Record<string, unknown>[]): ExportConfig[] {
  const connection = { apiUrl: 'acme.api-us1.com', apiKey: { value: 'k' }, privacyAcknowledged: true };
  return parseConfig({
    kafka: { brokers: ['kafka:9092'], topics: ['segments'] },
    connections: { main: connection, eu: connection },
    exports: exports.map((e) => ({ connection: 'main', ...e })),
  }).exports;
}

function change(
  over: Partial<SegmentChange> & { attributes?: Record<string, string | number | boolean | null> } = {},
): SegmentChange {
  const { attributes, ...rest } = over;
  return {
    eventId: 'evt-1',
    occurredAt: 1_700_000_000_000,
    segmentId: 'seg-vip',
    op: 'add',
    profile: { id: 'p-1', email: 'ann@example.com', firstName: 'Ann', lastName: undefined, phone: '0123', attributes },
    ...rest,
  };
}

describe('Router.route', () => {
  const exports = exportsOf([
    { name: 'vip-main', segmentId: 'seg-vip', listId: '3' },
    { name: 'vip-eu', segmentId: 'seg-vip', listId: '7', connection: 'eu' },
    { name: 'churn', segmentId: 'seg-churn', listId: '4' },
    { name: 'paused', segmentId: 'seg-paused', listId: '5', enabled: false },
    { name: 'half-paused', segmentId: 'seg-churn', listId: '6', enabled: false },
  ]);
  const router = new Router(exports);

  it('sends a segment to every enabled export that maps it', () => {
    assert.deepEqual(
      router.route('seg-vip').map((e) => e.name),
      ['vip-main', 'vip-eu'],
    );
  });

  it('skips disabled exports but remembers their segments', () => {
    assert.deepEqual(
      router.route('seg-churn').map((e) => e.name),
      ['churn'],
    );
    assert.deepEqual(router.route('seg-paused'), []);
    assert.equal(router.disabledSegments.has('seg-paused'), true);
    assert.equal(router.disabledSegments.has('seg-vip'), false);
  });

  it('an unmapped segment goes nowhere', () => {
    assert.deepEqual(router.route('seg-unknown'), []);
    assert.equal(router.disabledSegments.has('seg-unknown'), false);
  });
});

describe('Router.update', () => {
  it('carries the change, the list, tags and excludeAutomations of the export', () => {
    const [exp] = exportsOf([
      { name: 'vip', segmentId: 'seg-vip', listId: '3', tags: ['vip', 'kafka'], excludeAutomations: true },
    ]);
    const u = new Router([exp!]).update(exp!, change({ op: 'remove' }), 42, 'ref-1');
    assert.deepEqual(u, {
      email: 'ann@example.com',
      firstName: 'Ann',
      lastName: undefined,
      phone: '0123',
      fields: new Map(),
      tags: ['vip', 'kafka'],
      excludeAutomations: true,
      listId: '3',
      op: 'remove',
      occurredAt: 1_700_000_000_000,
      seq: 42,
      ref: 'ref-1',
    });
  });

  it('maps attributes to custom fields by id and by perstag, as strings', () => {
    const [exp] = exportsOf([
      {
        name: 'vip',
        segmentId: 'seg-vip',
        listId: '3',
        fields: { plan: 12, seats: 'SEATS', vip: 'vip_flag', region: 'UNKNOWN_TAG' },
      },
    ]);
    const asked: string[] = [];
    const perstags = new Map([
      ['SEATS', 20],
      ['vip_flag', 21],
    ]);
    const router = new Router([exp!], (e, tag) => {
      assert.equal(e, exp);
      asked.push(tag);
      return perstags.get(tag);
    });
    const u = router.update(
      exp!,
      change({ attributes: { plan: 'gold', seats: 12, vip: true, region: 'emea', unmapped: 'x' } }),
      1,
      'r',
    );
    assert.deepEqual(
      [...u.fields].sort(([a], [b]) => a - b),
      [
        [12, 'gold'],
        [20, '12'],
        [21, 'true'],
      ],
    );
    assert.deepEqual(asked.sort(), ['SEATS', 'UNKNOWN_TAG', 'vip_flag'], 'numeric ids need no lookup');
  });

  it('skips missing attributes and every perstag without a resolver; an explicit null clears the field (issue 15, defect 4)', () => {
    const [exp] = exportsOf([
      { name: 'vip', segmentId: 'seg-vip', listId: '3', fields: { plan: 12, seats: 13, tier: 'TIER' } },
    ]);
    const u = new Router([exp!]).update(exp!, change({ attributes: { plan: null, tier: 'gold' } }), 1, 'r');
    assert.deepEqual([...u.fields], [[12, null]]);
    const none = new Router([exp!]).update(exp!, change(), 1, 'r');
    assert.deepEqual([...none.fields], []);
  });

  it('an empty string value clears the field, as a null does (issue 15, defect 4: an empty value could never clear)', () => {
    const [exp] = exportsOf([{ name: 'vip', segmentId: 'seg-vip', listId: '3', fields: { plan: 12 } }]);
    const u = new Router([exp!]).update(exp!, change({ attributes: { plan: '' } }), 1, 'r');
    assert.deepEqual([...u.fields], [[12, null]]);
  });

  it('a blank name clears it; a missing or null name keeps it', () => {
    const [exp] = exportsOf([{ name: 'vip', segmentId: 'seg-vip', listId: '3' }]);
    const parsed = parseMembershipChange({
      eventId: 'e',
      occurredAt: '2026-01-01T00:00:00Z',
      segmentId: 'seg-vip',
      op: 'add',
      profile: { id: 'p', email: 'ann@example.com', firstName: ' ', phone: null },
    });
    assert.ok(parsed.ok && parsed.change.op !== 'erase');
    const u = new Router([exp!]).update(exp!, parsed.change, 1, 'r');
    assert.deepEqual([u.firstName, u.lastName, u.phone], [null, undefined, undefined]);
  });
});
