import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { emailProblem, isAcceptableEmail, normaliseEmail } from '../../src/domain/email.js';

/** ActiveCampaign's bulk-import email rules (CONTRACT.md §6), applied to already-normalised addresses. */
describe('emailProblem: addresses ActiveCampaign refuses', () => {
  it("refuses the docs' own failure examples", () => {
    assert.match(emailProblem(normaliseEmail('invalid.email@invalidDomain')) ?? '', /top-level domain|no "\."/);
    assert.match(emailProblem("invalid'character@example.com") ?? '', /special character/);
  });

  for (const ch of ['"', '(', ')', ',', ':', ';', '<', '>', '@', '[', '\\', ']', "'"]) {
    it(`refuses ${ch} in the local part`, () => {
      assert.equal(emailProblem(`ann${ch}lee@example.com`), 'email local part has a special character');
    });
  }

  it('refuses whitespace inside the local part', () => {
    assert.equal(emailProblem('ann lee@example.com'), 'email local part has a special character');
    assert.equal(emailProblem('ann\tlee@example.com'), 'email local part has a special character');
  });

  it('refuses an address without @', () => {
    assert.equal(emailProblem('ann.example.com'), 'email has no "@"');
  });

  it('refuses an empty local part and an empty address', () => {
    assert.equal(emailProblem('@example.com'), 'email has an empty local part');
    assert.equal(emailProblem(''), 'email is empty');
  });

  it('refuses a top-level domain of one letter, of digits, or missing', () => {
    assert.equal(emailProblem('ann@example.c'), 'email top-level domain is not at least two letters');
    assert.equal(emailProblem('ann@example.123'), 'email top-level domain is not at least two letters');
    assert.equal(emailProblem('ann@localhost'), 'email domain has no "." followed by a top-level domain');
  });

  it('refuses special characters and empty labels in the domain', () => {
    for (const email of [
      'ann@exa_mple.com',
      'ann@exam!ple.com',
      'ann@example..com',
      'ann@.example.com',
      'ann@example.com.',
      'ann@-example.com',
      'ann@example-.com',
    ]) {
      assert.equal(emailProblem(email), 'email domain has a special character or an empty label', email);
    }
  });

  it('refuses an address longer than 254 characters', () => {
    const email = `${'a'.repeat(64)}@${'b'.repeat(186)}.com`;
    assert.equal(email.length, 255);
    assert.equal(emailProblem(email), 'email is longer than 254 characters');
    assert.equal(emailProblem(email.slice(1)), undefined);
  });
});

describe('emailProblem: addresses ActiveCampaign accepts', () => {
  const accepted = [
    'ann@example.com',
    'ann+newsletter@example.com',
    'ann.marie.lee@example.com',
    'ann@mail.eu.example.co.uk',
    'ann@my-company.example',
    'ann-lee_99@example.io',
    'a@b.co',
    'x1@123.example.org',
  ];
  for (const email of accepted) {
    it(`accepts ${email}`, () => {
      assert.equal(emailProblem(email), undefined);
      assert.equal(isAcceptableEmail(email), true);
    });
  }

  it('isAcceptableEmail is false whenever emailProblem names a problem', () => {
    assert.equal(isAcceptableEmail("o'brien@example.com"), false);
  });
});

describe('normaliseEmail', () => {
  it('trims and lower-cases the whole address', () => {
    assert.equal(normaliseEmail('  Ann.Lee@Example.COM\n'), 'ann.lee@example.com');
  });

  it('leaves a normalised address as it is', () => {
    assert.equal(normaliseEmail('ann@example.com'), 'ann@example.com');
  });
});
