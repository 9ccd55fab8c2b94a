import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { failedBatchVerdict, missingOutcomes, readBatchLine, type BatchLineOutcome } from '../../src/batch/read-output.js';
import { InvalidRequestError, RateLimitedError, RequestTimeoutError, ServerError } from '../../src/worker/errors.js';

function line(customId: string, response: unknown, error: unknown = null): string {
  return JSON.stringify({ id: `batch_req_${customId}`, custom_id: customId, response, error });
}

function failure(outcome: BatchLineOutcome | { kind: 'unreadable' }) {
  assert.ok(outcome.kind === 'retry' || outcome.kind === 'final', `expected a failure, got ${outcome.kind}`);
  return outcome;
}

describe('output and error lines', () => {
  test('a 200 line is answered, with the body to parse like an online answer', () => {
    const body = { id: 'resp_1', status: 'completed', output: [] };
    const outcome = readBatchLine(line('a', { status_code: 200, request_id: 'req_1', body }));
    assert.deepEqual(outcome, { kind: 'answered', customId: 'a', status: 200, body, requestId: 'req_1' });
  });

  test('5xx, 429 and 408 lines are worth retrying; other 4xx are final; each with the error class online would give', () => {
    const cases: Array<[number, 'retry' | 'final', new (...a: never[]) => Error]> = [
      [500, 'retry', ServerError],
      [503, 'retry', ServerError],
      [429, 'retry', RateLimitedError],
      [408, 'retry', ServerError],
      [400, 'final', InvalidRequestError],
      [404, 'final', InvalidRequestError],
    ];
    for (const [status, kind, cls] of cases) {
      const outcome = failure(readBatchLine(line('x', { status_code: status, body: { error: { message: `said ${status}`, type: 't', param: null, code: 'c' } } })));
      assert.equal(outcome.kind, kind, `status ${status}`);
      assert.ok(outcome.error instanceof cls, `status ${status}: ${outcome.error.name}`);
      assert.equal(outcome.error.status, status);
      assert.match(outcome.error.message, new RegExp(`said ${status}`));
    }
  });

  test('lines the batch never ran (expired, cancelled) and timeouts are retried; a refused code is final', () => {
    const expired = failure(readBatchLine(line('e', null, { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' })));
    assert.equal(expired.kind, 'retry');
    assert.equal(expired.error.details?.code, 'batch_expired');
    assert.match(expired.error.message, /completion window expired/);
    assert.equal(failure(readBatchLine(line('c', null, { code: 'batch_cancelled', message: 'cancelled' }))).kind, 'retry');
    const timeout = failure(readBatchLine(line('t', null, { code: 'request_timeout', message: 'slow' })));
    assert.ok(timeout.error instanceof RequestTimeoutError);
    const refused = failure(readBatchLine(line('r', null, { code: 'invalid_request', message: 'bad' })));
    assert.equal(refused.kind, 'final');
    assert.equal(refused.error.retryable, false);
    assert.equal(failure(readBatchLine(line('u', null, { code: 'something_new', message: '?' }))).kind, 'retry', 'unknown codes are sent again, not dropped');
  });

  test('lines that name no item are unreadable, quoted briefly', () => {
    assert.equal(readBatchLine('not json').kind, 'unreadable');
    const noId = readBatchLine(JSON.stringify({ response: { status_code: 200, body: {} }, note: 'x'.repeat(500) }));
    assert.equal(noId.kind, 'unreadable');
    assert.ok('reason' in noId && noId.reason.length < 150);
  });
});

describe('a batch that ended', () => {
  test('items neither file mentions are retried, with the reason the batch ended', () => {
    const out = missingOutcomes(['a', 'b', 'c'], new Set(['b']), 'expired');
    assert.deepEqual(out.map((o) => [o.kind, o.customId]), [['retry', 'a'], ['retry', 'c']]);
    const first = failure(out[0]!);
    assert.equal(first.error.details?.code, 'batch_expired');
    assert.match(first.error.message, /expired/);
    assert.equal(failure(missingOutcomes(['z'], new Set(), 'completed')[0]!).error.details?.code, 'missing_from_output');
  });

  test('a failed batch: quota errors mean later, anything else means the file was refused', () => {
    assert.equal(failedBatchVerdict({ errors: { object: 'list', data: [{ code: 'token_limit_exceeded', message: 'Enqueued token limit reached' }] } }).verdict, 'later');
    const refused = failedBatchVerdict({ errors: { object: 'list', data: [{ code: 'invalid_json_line', message: 'bad', line: 3 }] } });
    assert.equal(refused.verdict, 'refused');
    assert.match(refused.message, /invalid_json_line \(line 3\): bad/);
    assert.equal(failedBatchVerdict({ errors: null }).verdict, 'refused');
  });
});
