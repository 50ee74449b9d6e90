import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parseMembershipChange } from '../../src/domain/event.js';

/**
 * The event contract exists twice: schemas/membership-change.schema.json for producers, and the zod schema the
 * service validates with. Both run over the same samples here and must give the same answer on each.
 */
// Both packages are CommonJS: under NodeNext the default import is module.exports, which carries the plugin
// again as `.default` (and Ajv2020 as a named export), so these forms are right for the types and at run time.
const addFormats = addFormatsModule.default;
const schemaFile = new URL('../../../schemas/membership-change.schema.json', import.meta.url);
const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
addFormats(ajv);
const validateJsonSchema = ajv.compile(JSON.parse(readFileSync(schemaFile, 'utf8')) as object);

type Sample = Record<string, unknown>;

const base = () => ({
  eventId: 'evt-1',
  occurredAt: '2024-05-01T10:00:00Z',
  segmentId: 'seg-vip',
  op: 'add',
  profile: { id: 'p-1', email: 'ann@example.com' },
});

/** A base event with one change: `at` is a dotted path, `value` undefined deletes the key. */
function variant(at: string, value: unknown): Sample {
  const event: Sample = base();
  const keys = at.split('.');
  let target = event;
  for (const key of keys.slice(0, -1)) target = target[key] as Sample;
  const last = keys[keys.length - 1]!;
  if (value === undefined) delete target[last];
  else target[last] = value;
  return event;
}

const valid: [string, unknown][] = [
  ['minimal event', base()],
  [
    'every optional field',
    {
      ...base(),
      profile: {
        id: 'p-1',
        email: 'ann@example.com',
        firstName: 'Ann',
        lastName: 'Lee',
        phone: '+44 20 7946 0000',
        attributes: { plan: 'gold', seats: 12 },
      },
    },
  ],
  ['occurredAt with a positive offset', variant('occurredAt', '2024-05-01T12:00:00+02:00')],
  [
    'occurredAt with a negative offset and fractional seconds',
    variant('occurredAt', '2024-05-01T05:00:00.123456-05:00'),
  ],
  ['occurredAt far in the past (a backfill)', variant('occurredAt', '1999-12-31T23:59:59Z')],
  [
    'attributes with numbers, booleans and null',
    variant('profile.attributes', { score: 4.5, count: 0, vip: true, churned: false, note: null }),
  ],
  ['empty attributes', variant('profile.attributes', {})],
  ['remove op', variant('op', 'remove')],
  ['erase op (an erasure request)', variant('op', 'erase')],
  [
    'unknown fields at the root and in the profile',
    { ...base(), source: 'cdp', version: 3, profile: { ...base().profile, locale: 'en-GB' } },
  ],
  [
    'optional names as null (as Avro sends them)',
    variant('profile', {
      id: 'p-1',
      email: 'ann@example.com',
      firstName: null,
      lastName: null,
      phone: null,
      attributes: null,
    }),
  ],
  [
    'optional names empty',
    variant('profile', { id: 'p-1', email: 'ann@example.com', firstName: '', lastName: '', phone: '' }),
  ],
  ['names with surrounding spaces', variant('profile.firstName', '  Ann  ')],
  ['ids of exactly 200 characters', { ...base(), eventId: 'e'.repeat(200), segmentId: 's'.repeat(200) }],
];

const invalid: [string, unknown][] = [
  ['eventId missing', variant('eventId', undefined)],
  ['occurredAt missing', variant('occurredAt', undefined)],
  ['segmentId missing', variant('segmentId', undefined)],
  ['op missing', variant('op', undefined)],
  ['op delete (erase is the word)', variant('op', 'delete')],
  ['erase op without an email', { ...variant('op', 'erase'), profile: { id: 'p-1' } }],
  ['profile missing', variant('profile', undefined)],
  ['profile.id missing', variant('profile.id', undefined)],
  ['profile.email missing', variant('profile.email', undefined)],
  ['op neither add nor remove', variant('op', 'update')],
  ['op in upper case', variant('op', 'ADD')],
  ['occurredAt not a date-time', variant('occurredAt', 'yesterday')],
  ['occurredAt without a time zone', variant('occurredAt', '2024-05-01T10:00:00')],
  ['occurredAt a date only', variant('occurredAt', '2024-05-01')],
  ['occurredAt an impossible day', variant('occurredAt', '2023-02-29T10:00:00Z')],
  ['occurredAt as epoch milliseconds', variant('occurredAt', 1714557600000)],
  ['occurredAt with a space instead of T', variant('occurredAt', '2024-05-01 10:00:00Z')],
  ['occurredAt in lower case', variant('occurredAt', '2024-05-01t10:00:00z')],
  ['occurredAt with an offset without colon', variant('occurredAt', '2024-05-01T10:00:00+0200')],
  ['occurredAt on a leap second', variant('occurredAt', '2016-12-31T23:59:60Z')],
  ['email without @', variant('profile.email', 'ann.example.com')],
  ['email not a string', variant('profile.email', 42)],
  ['empty eventId', variant('eventId', '')],
  ['eventId of spaces only', variant('eventId', '   ')],
  ['empty segmentId', variant('segmentId', '')],
  ['empty profile id', variant('profile.id', '')],
  ['eventId longer than 200 characters', variant('eventId', 'e'.repeat(201))],
  [
    'profile id of 200 characters plus a space (length counts before trimming)',
    variant('profile.id', ` ${'p'.repeat(200)}`),
  ],
  ['email with an empty local part', variant('profile.email', '@example.com')],
  ['email with two @', variant('profile.email', 'ann@lee@example.com')],
  ['email with a space inside', variant('profile.email', 'ann lee@example.com')],
  ['profile not an object', variant('profile', 'p-1')],
  ['profile an array', variant('profile', [{ id: 'p-1', email: 'ann@example.com' }])],
  ['attributes value an object', variant('profile.attributes', { address: { city: 'Leeds' } })],
  ['attributes value an array', variant('profile.attributes', { tags: ['a'] })],
  ['attributes an array', variant('profile.attributes', ['gold'])],
  ['firstName a number', variant('profile.firstName', 7)],
  ['phone longer than 64 characters', variant('profile.phone', '1'.repeat(65))],
  ['the event an array', [base()]],
  ['the event null', null],
];

describe('membership-change event: zod schema and JSON Schema agree', () => {
  assert.ok(valid.length >= 8 && invalid.length >= 12);

  for (const [name, sample] of valid) {
    it(`accepts: ${name}`, () => {
      const zod = parseMembershipChange(sample);
      assert.equal(zod.ok, true, `zod refused: ${zod.ok ? '' : zod.reason}`);
      assert.equal(
        validateJsonSchema(sample),
        true,
        `JSON Schema refused: ${ajv.errorsText(validateJsonSchema.errors)}`,
      );
    });
  }

  for (const [name, sample] of invalid) {
    it(`refuses: ${name}`, () => {
      const zod = parseMembershipChange(sample);
      assert.equal(zod.ok, false, 'zod accepted it');
      assert.equal(validateJsonSchema(sample), false, 'JSON Schema accepted it');
    });
  }

  it('an erase parses to an erasure request with the normalised email', () => {
    const result = parseMembershipChange({
      ...variant('op', 'erase'),
      profile: { id: 'p-1', email: ' Ann@Example.com ' },
    });
    assert.ok(result.ok);
    assert.equal(result.change.op, 'erase');
    assert.equal(result.change.profile.email, 'ann@example.com');
  });

  it('names the failing field in the zod reason', () => {
    const result = parseMembershipChange(variant('profile.email', 'ann.example.com'));
    assert.equal(result.ok, false);
    assert.match(result.ok ? '' : result.reason, /^profile\.email: /);
    const root = parseMembershipChange(null);
    assert.match(root.ok ? '' : root.reason, /^\(root\): /);
  });
});

describe('membership-change event: ActiveCampaign email rules (zod only)', () => {
  // The JSON Schema checks only the shape of an address (something@something, no spaces): a regular expression
  // cannot carry ActiveCampaign's full rules (forbidden characters in the local part only, a last domain label of
  // two letters or more, labels without special characters) in a form producers could read, and it must not
  // trim or lower-case. The service applies those rules itself (src/domain/email.ts), so these samples pass the
  // JSON Schema and are refused by zod: that difference is intended.
  const acRefused = [
    'invalid.email@invalidDomain',
    "invalid'character@example.com",
    'a(b)@example.com',
    'ann@example.c',
    'ann@exa_mple.com',
    'ann@example.123',
  ];
  for (const email of acRefused) {
    it(`refuses ${email} although its shape passes the JSON Schema`, () => {
      const sample = variant('profile.email', email);
      assert.equal(validateJsonSchema(sample), true, ajv.errorsText(validateJsonSchema.errors));
      const result = parseMembershipChange(sample);
      assert.equal(result.ok, false);
      assert.match(result.ok ? '' : result.reason, /^profile\.email: email /);
    });
  }

  it('trims and lower-cases an address the JSON Schema refuses for its spaces', () => {
    // Producers must send a clean address (the contract); the service is lenient and normalises it.
    const sample = variant('profile.email', '  Ann.Lee@Example.COM ');
    assert.equal(validateJsonSchema(sample), false);
    const result = parseMembershipChange(sample);
    assert.ok(result.ok);
    assert.equal(result.change.profile.email, 'ann.lee@example.com');
  });
});

describe('membership-change event: normalisation', () => {
  it('trims ids and names, lower-cases the email and parses occurredAt to epoch ms', () => {
    const result = parseMembershipChange({
      eventId: '  evt-9 ',
      occurredAt: '2024-05-01T12:00:00.250+02:00',
      segmentId: ' seg-vip',
      op: 'remove',
      profile: {
        id: 'p-9 ',
        email: 'Ann@Example.com',
        firstName: '  Ann ',
        lastName: 'Lee  ',
        phone: ' 0123 ',
        attributes: { plan: 'gold' },
      },
    });
    assert.ok(result.ok, result.ok ? '' : result.reason);
    assert.deepEqual(result.change, {
      eventId: 'evt-9',
      occurredAt: Date.UTC(2024, 4, 1, 10, 0, 0, 250),
      segmentId: 'seg-vip',
      op: 'remove',
      profile: {
        id: 'p-9',
        email: 'ann@example.com',
        firstName: 'Ann',
        lastName: 'Lee',
        phone: '0123',
        attributes: { plan: 'gold' },
      },
    });
  });

  it('drops empty, blank and null optional names and a null attributes map', () => {
    const result = parseMembershipChange(
      variant('profile', {
        id: 'p-1',
        email: 'ann@example.com',
        firstName: '',
        lastName: '   ',
        phone: null,
        attributes: null,
      }),
    );
    assert.ok(result.ok, result.ok ? '' : result.reason);
    const profile = result.change.profile;
    assert.equal(profile.firstName, undefined);
    assert.equal(profile.lastName, undefined);
    assert.equal(profile.phone, undefined);
    assert.equal(profile.attributes, undefined);
  });

  it('keeps attribute values as sent and strips unknown fields', () => {
    const result = parseMembershipChange({
      ...base(),
      extra: 1,
      profile: { ...base().profile, attributes: { n: 1.5, b: false, z: null }, locale: 'en' },
    });
    assert.ok(result.ok);
    assert.deepEqual(result.change.profile.attributes, { n: 1.5, b: false, z: null });
    assert.equal('extra' in result.change, false);
    assert.equal('locale' in result.change.profile, false);
  });

  it('parses Z and offset forms of the same instant to the same epoch ms', () => {
    const a = parseMembershipChange(variant('occurredAt', '2024-05-01T10:00:00Z'));
    const b = parseMembershipChange(variant('occurredAt', '2024-05-01T05:30:00-04:30'));
    assert.ok(a.ok && b.ok);
    assert.equal(a.change.occurredAt, Date.UTC(2024, 4, 1, 10));
    assert.equal(b.change.occurredAt, a.change.occurredAt);
  });
});
