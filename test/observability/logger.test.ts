import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { maskEmail, registerSecret, scrubLine, setShowEmails } from '../../src/observability/logger.js';
import { prettyLine } from '../../src/observability/pretty.js';
import { secretReader } from '../../src/config/secret.js';
import { memoryLogger } from '../support/observability.js';

afterEach(() => setShowEmails(false));

test('secret fields are redacted by path: API key, SASL password, Api-Token header', () => {
  const { log, lines } = memoryLogger();
  log.info(
    { apiKey: 'k1', connection: { apiKey: 'k2' }, kafka: { sasl: { password: 'p1' } }, headers: { 'api-token': 'h1' } },
    'config',
  );
  const line = lines.join('');
  for (const secret of ['"k1"', '"k2"', '"p1"', '"h1"']) assert.ok(!line.includes(secret), `${secret} leaked: ${line}`);
  assert.match(line, /\[redacted\]/);
});

test('a secret read through secretReader never reaches a line, whatever field or message carries it', () => {
  process.env.OBS_TEST_TOKEN = 'tok-3f9a1c77-e2b1';
  const read = secretReader({ env: 'OBS_TEST_TOKEN' }, 'connections.main.apiKey');
  const token = read();
  const { log, lines } = memoryLogger();
  log.warn(
    { err: `request with header api-token: ${token} failed`, nested: { deep: [token] } },
    `token ${token} in the message`,
  );
  const out = lines.join('');
  assert.ok(!out.includes(token), out);
  assert.equal(out.split('[redacted]').length - 1, 3);
});

test('emails are masked in any field or message, fragments too, unless showEmails is on', () => {
  const { log, lines } = memoryLogger();
  log.error(
    { email: 'Ana.Silva@Example.com', reason: 'contact bob@example.org failed' },
    'Unexpected token in "{"email":"carla@exa"',
  );
  const out = lines.join('');
  for (const raw of ['Ana.Silva@Example.com', 'bob@example.org', 'carla@exa'])
    assert.ok(!out.includes(raw), `${raw} leaked: ${out}`);
  assert.match(out, /A\*\*\*@E\*\*\*\.com/);
  setShowEmails(true);
  log.info({ email: 'ana@example.com' }, 'debugging');
  assert.match(lines.at(-1)!, /ana@example\.com/);
});

test('a URL-encoded email (a request path such as ?email=) is masked like a plain one', () => {
  const { log, lines } = memoryLogger();
  log.warn(
    { err: 'GET /api/3/contacts?email=ana.silva%40example.com failed', path: 'bob%40example.org' },
    'lookup of Carla%40Example.com timed out',
  );
  const out = lines.join('');
  for (const raw of ['ana.silva', 'bob%40example.org', 'Carla%40Example.com'])
    assert.ok(!out.includes(raw), `${raw} leaked: ${out}`);
  assert.match(out, /a\*\*\*%40e\*\*\*\.com/);
});

test('the local part JSON.parse quotes back before a cut ("ana.silva@"...) is masked too', () => {
  let message = '';
  try {
    JSON.parse('{"email":ana.silva@example.com}');
  } catch (err) {
    message = (err as Error).message;
  }
  assert.match(message, /ana\.silva@"/, `V8 cuts the quoted text after the "@": ${message}`);
  const { log, lines } = memoryLogger();
  log.warn({ stage: 'decode' }, `A record was refused: the record value is not JSON: ${message}`);
  assert.ok(!lines.join('').includes('ana.silva'), lines.join(''));
});

test('masking never cuts a JSON escape: a line with an email after \\u0000 or a lone surrogate stays JSON', () => {
  const { log, lines } = memoryLogger();
  log.warn({ key: 'main\u0000list-3\u0000ana@example.com', attr: 'x\ud800ana@example.com' }, 'a key');
  const parsed = JSON.parse(lines[0]!) as { key: string; attr: string };
  assert.equal(parsed.key, 'main\u0000list-3\u0000a***@e***.com');
  assert.equal(parsed.attr, 'x\ud800a***@e***.com');
});

test("a poison record's 1 MB attribute name is scrubbed in one pass (it took minutes before)", () => {
  // The old pattern tried a run of text from each of its characters, backtracking for an "@": quadratic.
  const { log, lines } = memoryLogger();
  const name = 'k'.repeat(1_000_000);
  log.warn({ email: 'ana@example.com' }, `A record was refused: profile.attributes.${name}: Invalid input`);
  const out = lines.join('');
  assert.ok(!out.includes('ana@example.com'));
  assert.ok(out.includes(`profile.attributes.${name}: Invalid input`));
});

test('a registered secret is scrubbed URL-encoded too', () => {
  const secret = 'pw/3f9a+c77=e2b1 x';
  registerSecret(secret);
  const { log, lines } = memoryLogger();
  log.warn({ url: `https://host/hook/${encodeURIComponent(secret)}` }, 'a request failed');
  assert.ok(!lines.join('').includes(encodeURIComponent(secret)), lines.join(''));
});

test('maskEmail and the line scrubber agree and are idempotent', () => {
  assert.equal(maskEmail('ana.silva@example.com'), 'a***@e***.com');
  assert.equal(scrubLine(scrubLine('x ana.silva@example.com y')), 'x a***@e***.com y');
  registerSecret('abc'); // too short to be a real secret: ignored rather than scrubbing every "abc"
  assert.equal(scrubLine('abcdef'), 'abcdef');
});

test('the terminal format is one readable line per record, with module and fields', () => {
  const line = prettyLine(
    JSON.stringify({
      level: 40,
      time: '2026-11-28T10:21:33.120Z',
      module: 'deliver',
      connection: 'main',
      code: 'RATE_LIMITED',
      msg: 'ActiveCampaign asked us to slow down',
    }),
  );
  assert.equal(line, '10:21:33.120  WARN   deliver main  ActiveCampaign asked us to slow down  code=RATE_LIMITED\n');
  assert.equal(prettyLine('not json'), 'not json\n');
});
