import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errors } from 'undici';
import { classifyResponse, classifyTransportError, parseRetryAfter, toApiError } from '../../src/deliver/classify.js';
import { normaliseApiUrl } from '../../src/deliver/client.js';

const NOW = Date.parse('2026-03-02T10:00:00Z');

describe('classifyResponse: success', () => {
  it('200 and 201 are ok', () => {
    assert.deepEqual(classifyResponse(200, { success: 1, batchId: 'b' }, undefined, NOW), { kind: 'ok' });
    assert.deepEqual(classifyResponse(201, { contact: {} }, undefined, NOW), { kind: 'ok' });
    assert.deepEqual(classifyResponse(204, undefined, undefined, NOW), { kind: 'ok' });
  });
});

describe('classifyResponse: throttling', () => {
  it('429 with Retry-After in seconds', () => {
    assert.deepEqual(classifyResponse(429, undefined, '30', NOW), {
      kind: 'throttled',
      retryAfterMs: 30_000,
      code: 'RATE_LIMITED',
    });
  });

  it('429 with decimal seconds (a time-scaled simulator)', () => {
    const v = classifyResponse(429, undefined, '0.25', NOW);
    assert.equal(v.kind === 'throttled' && v.retryAfterMs, 250);
  });

  it('429 with an HTTP date', () => {
    const v = classifyResponse(429, undefined, new Date(NOW + 5_000).toUTCString(), NOW);
    assert.equal(v.kind === 'throttled' && v.retryAfterMs, 5_000);
  });

  it('429 with a date already past waits 0 ms', () => {
    const v = classifyResponse(429, undefined, new Date(NOW - 60_000).toUTCString(), NOW);
    assert.equal(v.kind === 'throttled' && v.retryAfterMs, 0);
  });

  it('429 without Retry-After, or with an unreadable one, waits the default 1 s', () => {
    for (const header of [undefined, '', '  ', 'soon', 'Infinity']) {
      const v = classifyResponse(429, { message: 'Too Many Requests' }, header, NOW);
      assert.deepEqual(v, { kind: 'throttled', retryAfterMs: 1_000, code: 'RATE_LIMITED' }, String(header));
    }
  });

  it('the bulk import\'s 400 "Rate limit exceeded." (CONTRACT.md §2, verbatim) waits 60 s', () => {
    const body = JSON.parse(
      '{"success":0,"message":"Rate limit exceeded.","failureReasons":["Up to 100 imports may be requested per minute.Please batch contacts into larger requests, or retry this request in a minute."]}',
    ) as unknown;
    assert.deepEqual(classifyResponse(400, body, undefined, NOW), {
      kind: 'throttled',
      retryAfterMs: 60_000,
      code: 'BULK_RATE_LIMITED',
    });
  });

  it('parseRetryAfter: seconds, HTTP date, nothing', () => {
    assert.equal(parseRetryAfter('2', NOW), 2_000);
    assert.equal(parseRetryAfter(' 1.5 ', NOW), 1_500);
    assert.equal(parseRetryAfter('Mon, 02 Mar 2026 10:01:00 GMT', NOW), 60_000);
    assert.equal(parseRetryAfter(undefined, NOW), undefined);
    assert.equal(parseRetryAfter('later', NOW), undefined);
  });
});

describe('classifyResponse: refusals', () => {
  it('400 validation with failureReasons objects names the contact indexes', () => {
    const body = {
      success: 0,
      message:
        'JSON payload did not pass validation. Please fix failure Reasons and retry. The import was not queued for processing.',
      failureReasons: [
        { contact: 230, failureReason: 'Field‘ email’ incorrect format' },
        { contact: 4, failureReason: 'Field‘ email’ is required' },
      ],
    };
    assert.deepEqual(classifyResponse(400, body, undefined, NOW), {
      kind: 'invalid-contacts',
      indexes: [230, 4],
      reasons: ['Field‘ email’ incorrect format', 'Field‘ email’ is required'],
    });
  });

  it('400 with string failureReasons (not validation) is a reject that carries the text', () => {
    const v = classifyResponse(
      400,
      { success: 0, message: '', failureReasons: ['Something else went wrong.'] },
      undefined,
      NOW,
    );
    assert.deepEqual(v, { kind: 'reject', code: 'REJECTED', message: 'HTTP 400: Something else went wrong.' });
  });

  it("an email ActiveCampaign quotes in a refusal is masked in the reject's message and in a contact's reason", () => {
    const reject = classifyResponse(
      422,
      { message: 'Email address already exists: bo.lee@example.com.' },
      undefined,
      NOW,
    );
    assert.deepEqual(reject, {
      kind: 'reject',
      code: 'REJECTED',
      message: 'HTTP 422: Email address already exists: b***@e***.',
    });
    const named = classifyResponse(
      400,
      { failureReasons: [{ contact: 0, failureReason: 'Contact ann.smith@example.com is invalid' }] },
      undefined,
      NOW,
    );
    assert.deepEqual(named, { kind: 'invalid-contacts', indexes: [0], reasons: ['Contact a***@e***.com is invalid'] });
  });

  it('400 with a message (missing batchId) is a reject', () => {
    const v = classifyResponse(400, { success: 0, message: "'batchId' is a required field." }, undefined, NOW);
    assert.deepEqual(v, { kind: 'reject', code: 'REJECTED', message: "HTTP 400: 'batchId' is a required field." });
  });

  it('403 with or without a body is an account-wide auth failure; 401 too', () => {
    for (const [status, body] of [
      [403, { message: 'Forbidden' }],
      [403, undefined],
      [403, 'not json at all'],
      [401, undefined],
    ] as const) {
      const v = classifyResponse(status, body, undefined, NOW);
      assert.equal(v.kind, 'account', `${status} ${String(body)}`);
      assert.equal(v.kind === 'account' && v.code, 'AUTH_FAILED');
    }
  });

  it('5xx and 408 are account-wide server errors', () => {
    for (const status of [500, 502, 503, 504, 408]) {
      const v = classifyResponse(status, undefined, undefined, NOW);
      assert.deepEqual(v, { kind: 'account', code: 'SERVER_ERROR', message: `HTTP ${status}` });
    }
  });

  it('404 is a reject NOT_FOUND with the message', () => {
    const v = classifyResponse(404, { message: 'No Result found for _List with id 9' }, undefined, NOW);
    assert.deepEqual(v, {
      kind: 'reject',
      code: 'NOT_FOUND',
      message: 'HTTP 404: No Result found for _List with id 9',
    });
  });

  it('422 with errors[] is a reject that shows the body', () => {
    const v = classifyResponse(
      422,
      { errors: [{ code: 'duplicate', title: 'Email address already exists in the system' }] },
      undefined,
      NOW,
    );
    assert.equal(v.kind, 'reject');
    assert.match(v.kind === 'reject' ? v.message : '', /^HTTP 422: .*duplicate/);
  });
});

describe('classifyTransportError', () => {
  it('timeouts: undici connect/headers/body timeouts and an aborted AbortSignal.timeout', () => {
    const timeouts: unknown[] = [
      new errors.ConnectTimeoutError(),
      new errors.HeadersTimeoutError(),
      new errors.BodyTimeoutError(),
      new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
    ];
    for (const err of timeouts) {
      const v = classifyTransportError(err);
      assert.equal(v.kind, 'account');
      assert.equal(v.kind === 'account' && v.code, 'TIMEOUT', (err as Error).name);
    }
  });

  it('network failures: refused connection, closed socket, no code at all', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    for (const err of [refused, new errors.SocketError('other side closed'), new Error('boom')]) {
      const v = classifyTransportError(err);
      assert.equal(v.kind === 'account' && v.code, 'NETWORK', (err as Error).message);
    }
    const v = classifyTransportError(refused);
    assert.match(v.kind === 'account' ? v.message : '', /ECONNREFUSED/);
  });
});

describe('toApiError', () => {
  it('throttled and account verdicts are retriable; refusals are not', () => {
    const throttled = toApiError({ kind: 'throttled', retryAfterMs: 2_000, code: 'RATE_LIMITED' }, 429);
    assert.equal(throttled.retriable, true);
    assert.equal(throttled.retryAfterMs, 2_000);
    assert.equal(throttled.status, 429);
    assert.equal(toApiError({ kind: 'account', code: 'SERVER_ERROR', message: 'HTTP 503' }, 503).retriable, true);
    const invalid = toApiError({ kind: 'invalid-contacts', indexes: [1], reasons: ['bad email'] }, 400);
    assert.equal(invalid.retriable, false);
    assert.equal(invalid.code, 'INVALID_CONTACTS');
    assert.equal(toApiError({ kind: 'reject', code: 'NOT_FOUND', message: 'HTTP 404' }, 404).retriable, false);
  });
});

describe('normaliseApiUrl (CONTRACT.md §1)', () => {
  const expected = { origin: 'https://acme.api-us1.com', basePath: '/api/3' };
  for (const input of [
    'acme.api-us1.com',
    'https://acme.api-us1.com',
    'https://acme.api-us1.com/',
    'https://acme.api-us1.com/api/3',
    'https://acme.api-us1.com/api/3/',
    'acme.api-us1.com/api/3',
    '  HTTPS://ACME.api-us1.com//  ',
  ]) {
    it(`"${input}" → https://acme.api-us1.com/api/3`, () => {
      assert.deepEqual(normaliseApiUrl(input), expected);
    });
  }

  it('keeps an explicit http:// (the simulator) and its port', () => {
    assert.deepEqual(normaliseApiUrl('http://127.0.0.1:8123'), { origin: 'http://127.0.0.1:8123', basePath: '/api/3' });
    assert.deepEqual(normaliseApiUrl('http://127.0.0.1:8123/api/3/'), {
      origin: 'http://127.0.0.1:8123',
      basePath: '/api/3',
    });
  });

  it('keeps a path prefix before /api/3', () => {
    assert.deepEqual(normaliseApiUrl('http://localhost:9000/ac/'), {
      origin: 'http://localhost:9000',
      basePath: '/ac/api/3',
    });
  });
});

describe('classifyResponse: validation 400 shapes we do not know', () => {
  it('defect 6: a string index is read as an index; reasons with no index are bisected, not dead-lettered whole', () => {
    // Reproduced on the old classifier: both shapes were a REJECTED reject of the whole batch.
    const stringIndex = classifyResponse(
      400,
      {
        success: 0,
        message: 'JSON payload did not pass validation.',
        failureReasons: [{ contact: '2', failureReason: 'bad' }],
      },
      undefined,
      0,
    );
    assert.deepEqual(stringIndex, { kind: 'invalid-contacts', indexes: [2], reasons: ['bad'] });
    const noIndex = classifyResponse(
      400,
      {
        success: 0,
        message: 'JSON payload did not pass validation.',
        failureReasons: [
          { failureReason: 'Field email incorrect format: ann.smith@example.com' },
          { failureReason: 'Email address already exists: bo.lee@example.com.' },
        ],
      },
      undefined,
      0,
    );
    assert.equal(noIndex.kind, 'invalid-unnamed');
    const body = (noIndex as { body: string }).body;
    assert.ok(body.includes('incorrect format'), 'the raw body is kept');
    assert.ok(
      !body.includes('ann.smith@example.com') && !body.includes('bo.lee@') && body.includes('a***@e***.com'),
      `the email in it is masked: ${body}`,
    );
  });
});
