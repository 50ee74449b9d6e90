import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as simulator from '../../packages/ac-simulator/src/email.js';
import * as service from '../../src/domain/email.js';

/**
 * One table of addresses, fed to the service's email rule (src/domain/email.ts) and to the simulator's
 * (packages/ac-simulator/src/email.ts), which are written separately from CONTRACT.md §6.
 *   - `docs`: the contract settles the verdict ([DOC D-bulk, D-info]); both rules must give it, so they agree.
 *   - `mayDiffer`: the contract does not settle it; the reason says why. The two rules may differ here on
 *     purpose, and the test only reports where they do today.
 */
interface Row {
  email: string;
  docs?: 'accept' | 'refuse';
  mayDiffer?: string;
}

const LISTED = '§6 names it among the reasons a bulk import fails';
const UNLISTED = '§6 lists why an import fails, and does not say the list is complete';

const rows: Row[] = [
  // The docs' own failure examples, and each reason §6 lists.
  { email: 'invalid.email@invalidDomain', docs: 'refuse' },
  { email: "invalid'character@example.com", docs: 'refuse' },
  ...['"', '(', ')', ',', ':', ';', '<', '>', '@', '[', '\\', ']'].map(
    (ch): Row => ({
      email: `ann${ch}lee@example.com`,
      docs: 'refuse',
    }),
  ),
  { email: 'ann.example.com', docs: 'refuse' },
  { email: '@example.com', docs: 'refuse' },
  { email: '', docs: 'refuse' },
  { email: 'ann@example', docs: 'refuse' },
  { email: 'ann@example.c', docs: 'refuse' },
  { email: 'ann@example.123', docs: 'refuse' },
  { email: 'ann@exa(mple.com', docs: 'refuse' },
  { email: 'ann@exa,mple.com', docs: 'refuse' },
  // None of §6's reasons applies.
  ...[
    'ann@example.com',
    'Ann.Lee@Example.COM',
    'ann+newsletter@example.com',
    'ann-lee_99@example.io',
    'a@b.co',
    'x1@123.example.org',
    'ann@mail.eu.example.co.uk',
    'ann@my-company.example',
  ].map((email): Row => ({ email, docs: 'accept' })),
  // What §6 does not settle.
  { email: 'ann lee@example.com', mayDiffer: `whitespace is not among the special characters ${LISTED}` },
  { email: 'ann\tlee@example.com', mayDiffer: `a tab is not among the special characters ${LISTED}` },
  { email: 'ann@exa_mple.com', mayDiffer: 'whether "_" in a domain is a "special character" (§6) is not said' },
  { email: 'ann@exam!ple.com', mayDiffer: 'whether "!" in a domain is a "special character" (§6) is not said' },
  { email: 'ann@bücher.de', mayDiffer: 'internationalised domains are not mentioned (§6)' },
  { email: 'jösé@example.com', mayDiffer: 'non-ASCII local parts are not mentioned (§6)' },
  { email: 'ann@example..com', mayDiffer: `an empty domain label: ${UNLISTED}` },
  { email: 'ann@.example.com', mayDiffer: `an empty domain label: ${UNLISTED}` },
  { email: 'ann@example.com.', mayDiffer: 'a trailing ".": §6 asks for "." and two letters, not where' },
  { email: 'ann@-example.com', mayDiffer: `a label that begins with "-": ${UNLISTED}` },
  { email: 'ann@example-.com', mayDiffer: `a label that ends with "-": ${UNLISTED}` },
  {
    email: `${'a'.repeat(64)}@${'b'.repeat(186)}.com`,
    mayDiffer: `255 characters: no length limit in §6; ${UNLISTED}`,
  },
];

const verdict = (problem: string | undefined) => (problem === undefined ? 'accept' : 'refuse');
const shown = (email: string) =>
  JSON.stringify(email.length > 40 ? `${email.slice(0, 12)}…(${email.length} chars)` : email);

describe('the service and the simulator on one table of email addresses', () => {
  for (const row of rows.filter((r) => r.docs !== undefined)) {
    it(`both ${row.docs} ${shown(row.email)}, as CONTRACT.md §6 says`, () => {
      assert.equal(verdict(service.emailProblem(row.email)), row.docs, `service: ${service.emailProblem(row.email)}`);
      assert.equal(
        verdict(simulator.emailProblem(row.email)),
        row.docs,
        `simulator: ${simulator.emailProblem(row.email)}`,
      );
    });
  }

  it('every row either has a verdict from the docs or says why the two may differ', () => {
    for (const row of rows) assert.ok((row.docs === undefined) !== (row.mayDiffer === undefined), shown(row.email));
  });

  it('lists where the two differ today, all of them rows the contract leaves open', (t) => {
    const differ = rows.filter(
      (r) => verdict(service.emailProblem(r.email)) !== verdict(simulator.emailProblem(r.email)),
    );
    for (const r of differ) {
      const [ours, its] = [verdict(service.emailProblem(r.email)), verdict(simulator.emailProblem(r.email))];
      t.diagnostic(`${shown(r.email)}: service ${ours}s, simulator ${its}s (${r.mayDiffer})`);
    }
    assert.deepEqual(
      differ.filter((r) => r.mayDiffer === undefined),
      [],
    );
  });
});

describe('the service and the simulator on case and whitespace', () => {
  const variants = ['ann.lee@example.com', 'Ann.Lee@Example.COM', 'ANN.LEE@EXAMPLE.COM', '  ann.lee@example.com\n'];

  it('the service keys its state on the trimmed, lower-cased address (§6, the client rule)', () => {
    for (const v of variants) assert.equal(service.normaliseEmail(v), 'ann.lee@example.com', JSON.stringify(v));
  });

  it('the simulator matches a contact whatever the case (§4.1, its rule); AC itself is [UNCONFIRMED]', () => {
    const keys = new Set(variants.map((v) => simulator.normaliseEmail(v)));
    assert.equal(keys.size, 1, [...keys].join(', '));
  });

  it('each keeps a key as it is; beyond that they may fold differently (§6: "not documented [UNCONFIRMED]")', (t) => {
    for (const v of [...variants, 'ÄNN@EXAMPLE.COM', 'ann@example.com\u00a0', 'İnci@example.com']) {
      const [a, b] = [service.normaliseEmail(v), simulator.normaliseEmail(v)];
      assert.equal(service.normaliseEmail(a), a, JSON.stringify(v));
      assert.equal(simulator.normaliseEmail(b), b, JSON.stringify(v));
      if (a !== b)
        t.diagnostic(`${JSON.stringify(v)}: service keys ${JSON.stringify(a)}, simulator ${JSON.stringify(b)}`);
    }
  });
});
