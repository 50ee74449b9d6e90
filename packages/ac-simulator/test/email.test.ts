import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { emailProblem, normaliseEmail } from '../src/email.js';

/** The simulator's own reading of CONTRACT.md §6 (src/email.ts). */
describe('the simulator email rule', () => {
  it("refuses the docs' failure examples and each reason §6 lists", () => {
    assert.equal(
      emailProblem('invalid.email@invalidDomain'),
      'the domain does not end in "." and at least two letters',
    );
    assert.equal(emailProblem("invalid'character@example.com"), 'the part before "@" has a special character');
    assert.equal(emailProblem('ann.example.com'), 'the address has no "@"');
    assert.equal(emailProblem('@example.com'), 'the part before "@" is empty');
    assert.equal(emailProblem('ann@lee@example.com'), 'the address has more than one "@"');
    for (const ch of ['"', '(', ')', ',', ':', ';', '<', '>', '[', '\\', ']']) {
      assert.equal(emailProblem(`ann${ch}lee@example.com`), 'the part before "@" has a special character', ch);
      assert.equal(emailProblem(`ann@exa${ch}mple.com`), 'the domain has a special character', ch);
    }
    assert.equal(emailProblem('ann@example.c'), 'the domain does not end in "." and at least two letters');
  });

  it('reads what §6 leaves open: whitespace is special, empty labels and long addresses pass', () => {
    assert.equal(emailProblem('ann lee@example.com'), 'the part before "@" has a special character');
    assert.equal(emailProblem('ann@example.com '), 'the domain has a special character');
    assert.equal(emailProblem('ann@exa_mple.com'), 'the domain has a special character');
    for (const email of ['ann@example..com', 'ann@-example.com', `${'a'.repeat(64)}@${'b'.repeat(186)}.com`]) {
      assert.equal(emailProblem(email), undefined, email);
    }
  });

  it('matches contacts case-insensitively, ignoring surrounding whitespace', () => {
    assert.equal(normaliseEmail('  Ann.Lee@Example.COM\n'), 'ann.lee@example.com');
  });
});
