import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorFromFailedResponse, errorFromResponse } from '../../src/worker/classify.js';
import { redactSecrets, truncate } from '../../src/worker/redact.js';

const KEY = 'sk-proj-SECRET0123456789abcdef';

describe('redactSecrets', () => {
  it('replaces every occurrence, longest secret first', () => {
    assert.equal(redactSecrets(`a ${KEY} b ${KEY}`, [KEY]), 'a [REDACTED] b [REDACTED]');
    assert.equal(redactSecrets('abcdef abc', ['abc', 'abcdef']), '[REDACTED] [REDACTED]');
  });

  it('ignores empty secrets', () => {
    assert.equal(redactSecrets('text', ['']), 'text');
  });

  it('masks bearer credentials it was not told about, but not short prose', () => {
    assert.equal(redactSecrets('Authorization: Bearer abcdefghijklmnop.qrs', []), 'Authorization: Bearer [REDACTED]');
    assert.equal(redactSecrets('use Bearer auth', []), 'use Bearer auth');
  });

  it('truncates with a marker', () => {
    assert.equal(truncate('abcdef', 10), 'abcdef');
    assert.equal(truncate('abcdef', 3), 'abc… (3 more chars)');
  });
});

describe('error messages never carry the key', () => {
  const bodies = [
    JSON.stringify({ error: { message: `Incorrect API key provided: ${KEY}`, type: 'invalid_request_error', param: KEY, code: null } }),
    `<html>echo: Authorization: Bearer ${KEY}</html>`,
    JSON.stringify({ detail: { headers: { authorization: `Bearer ${KEY}` } } }),
  ];
  for (const [i, body] of bodies.entries()) {
    for (const status of [400, 401, 429, 500]) {
      it(`body ${i}, HTTP ${status}`, () => {
        const err = errorFromResponse(status, new Headers(), body, { secrets: [KEY] });
        assert.ok(!err.message.includes(KEY), err.message);
        assert.ok(!JSON.stringify(err.details).includes(KEY));
        assert.ok(!JSON.stringify(err.toLineError()).includes(KEY));
      });
    }
  }

  it('in failed responses', () => {
    const err = errorFromFailedResponse({ code: 'x', message: `key ${KEY} was bad` }, { secrets: [KEY] });
    assert.ok(!err.message.includes(KEY));
  });
});
