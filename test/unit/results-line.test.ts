import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JobData } from '../../src/core/item.js';
import type { OutputLine } from '../../src/core/output-line.js';
import {
  abandonedJobLine,
  rejectedJobLine,
  resultsLine,
  structuredFields,
  type AnsweredResponse,
  type LineContext,
} from '../../src/core/results-line.js';

const item: Extract<JobData, { type: 'item' }> = {
  type: 'item',
  run: 'r1',
  customId: 'row-7',
  source: { file: '/data/in.csv', line: 8 },
  request: { kind: 'prompt', text: 'hi', images: [] },
};
const at = new Date('2026-12-04T10:00:00.000Z');
const usage = { input_tokens: 10, output_tokens: 5, total_tokens: 15 };

function ctx(over: Partial<LineContext> = {}): LineContext {
  return { item, model: 'gpt-x', attempts: 2, latencyMs: 120, rateLimited: 0, finishedAt: at, ...over };
}

function answered(over: Partial<AnsweredResponse> = {}): AnsweredResponse {
  return { status: 'completed', model: 'gpt-x-2026', outputText: 'Echo: hi', refusal: null, usage, responseId: 'resp_1', incompleteReason: null, ...over };
}

describe('resultsLine: answers', () => {
  it('a completed answer reports the response: its model, text, usage and id, with the call facts', () => {
    const line = resultsLine(ctx(), { kind: 'answer', response: answered(), wantsJson: false });
    assert.deepEqual(line, {
      custom_id: 'row-7',
      status: 'completed',
      model: 'gpt-x-2026',
      output_text: 'Echo: hi',
      usage,
      response_id: 'resp_1',
      attempts: 2,
      latency_ms: 120,
      source: { file: '/data/in.csv', line: 8 },
      run: 'r1',
      finished_at: '2026-12-04T10:00:00.000Z',
    });
    // The results file's column order, unchanged.
    assert.deepEqual(Object.keys(line), ['custom_id', 'status', 'model', 'output_text', 'usage', 'response_id', 'attempts', 'latency_ms', 'source', 'run', 'finished_at']);
  });

  it("says which tier served the answer, as the response's service_tier said; nothing when it said none", () => {
    assert.equal(resultsLine(ctx(), { kind: 'answer', response: answered({ serviceTier: 'flex' }), wantsJson: false }).service_tier, 'flex');
    assert.ok(!('service_tier' in resultsLine(ctx(), { kind: 'answer', response: answered({ serviceTier: null }), wantsJson: false })));
  });

  it('falls back to the requested model when the response names none', () => {
    const line = resultsLine(ctx(), { kind: 'answer', response: answered({ model: null }), wantsJson: false });
    assert.equal(line.model, 'gpt-x');
  });

  it('an incomplete answer keeps its text and says why it stopped', () => {
    const line = resultsLine(ctx(), { kind: 'answer', response: answered({ status: 'incomplete', incompleteReason: 'max_output_tokens' }), wantsJson: false });
    assert.equal(line.status, 'incomplete');
    assert.equal(line.output_text, 'Echo: hi');
    assert.deepEqual(line.error, { type: 'incomplete', message: 'max_output_tokens', status: null });
    const noReason = resultsLine(ctx(), { kind: 'answer', response: answered({ status: 'incomplete' }), wantsJson: false });
    assert.equal(noReason.error?.message, 'response incomplete');
  });

  it('parsed is the JSON when asked for and parsed, null when asked for and not parsed, absent otherwise', () => {
    assert.deepEqual(resultsLine(ctx(), { kind: 'answer', response: answered({ parsed: { a: 1 } }), wantsJson: true }).parsed, { a: 1 });
    const unparsed = resultsLine(ctx(), { kind: 'answer', response: answered(), wantsJson: true });
    assert.ok('parsed' in unparsed);
    assert.equal(unparsed.parsed, null);
    assert.ok(!('parsed' in resultsLine(ctx(), { kind: 'answer', response: answered(), wantsJson: false })));
  });

  it('reports a refusal, the 429s (only when > 0) right after the shared fields, and the HTTP record', () => {
    const http = { status_code: 200, request_id: 'req_1', body: { id: 'resp_1' } };
    const line = resultsLine(ctx({ rateLimited: 3 }), { kind: 'answer', response: answered({ refusal: 'no' }), wantsJson: false, http });
    assert.equal(line.refusal, 'no');
    assert.equal(line.rate_limited, 3);
    assert.deepEqual(line.http, http);
    assert.deepEqual(Object.keys(line).slice(11), ['rate_limited', 'refusal', 'http']);
    assert.ok(!('rate_limited' in resultsLine(ctx(), { kind: 'answer', response: answered(), wantsJson: false })));
  });

  it("a structured answer's fields replace the call's, with the requested model when the vote's answer names none", () => {
    const structured = structuredFields.invalid(answered({ model: null }), { label: 'nope' }, { ...usage, total_tokens: 45 }, 'not one of the allowed values', { invalid_answers: 3, calls: 3 });
    const line = resultsLine(ctx(), { kind: 'answer', response: answered(), wantsJson: true, structured });
    assert.equal(line.status, 'invalid_output');
    assert.equal(line.model, 'gpt-x');
    assert.deepEqual(line.parsed, { label: 'nope' });
    assert.equal(line.usage?.total_tokens, 45);
    assert.deepEqual(line.error, { type: 'invalid_output', message: 'not one of the allowed values', status: null });
    assert.equal(line.invalid_answers, 3);
    assert.equal(line.calls, 3);
  });
});

describe('structuredFields', () => {
  it('valid: completed with the voted value and the summed usage', () => {
    const f = structuredFields.valid(answered({ refusal: null }), { label: 'a' }, usage, {});
    assert.deepEqual(f, { status: 'completed', model: 'gpt-x-2026', output_text: 'Echo: hi', parsed: { label: 'a' }, usage, response_id: 'resp_1' });
  });

  it('invalid: a value that did not parse is null', () => {
    assert.equal(structuredFields.invalid(answered(), undefined, usage, 'not JSON', {}).parsed, null);
  });

  it('incomplete: the reason, or a default', () => {
    assert.deepEqual(structuredFields.incomplete(answered({ incompleteReason: null }), usage, { calls: 2 }).error, { type: 'incomplete', message: 'response incomplete', status: null });
    assert.equal(structuredFields.incomplete(answered(), usage, { calls: 2 }).calls, 2);
  });
});

describe('resultsLine: no answer', () => {
  it('a failed call: the error, its attempts and latency, the 429s', () => {
    const error = { type: 'server_error' as const, message: 'HTTP 503', status: 503 };
    const line = resultsLine(ctx({ attempts: 5, latencyMs: 40, rateLimited: 1 }), { kind: 'failed', error });
    assert.equal(line.status, 'failed');
    assert.deepEqual(line.error, error);
    assert.equal(line.model, 'gpt-x');
    assert.equal(line.attempts, 5);
    assert.equal(line.latency_ms, 40);
    assert.equal(line.rate_limited, 1);
    assert.equal(line.usage, null);
    assert.equal(line.response_id, null);
    assert.ok(!('http' in line));
  });

  it('a failed response keeps its id, usage and model, and its HTTP record when given', () => {
    const http = { status_code: 200, request_id: null, body: { status: 'failed' } };
    const line = resultsLine(ctx(), {
      kind: 'failed',
      error: { type: 'response_failed', message: 'response failed: model_error', status: 200 },
      response: { model: 'gpt-x-2026', responseId: 'resp_9', usage },
      http,
    });
    assert.equal(line.model, 'gpt-x-2026');
    assert.equal(line.response_id, 'resp_9');
    assert.deepEqual(line.usage, usage);
    assert.deepEqual(line.http, http);
  });

  it('cancelled: a failed line of type cancelled, counting the 429s', () => {
    const line = resultsLine(ctx({ attempts: 1, latencyMs: null, rateLimited: 2 }), { kind: 'cancelled' });
    assert.equal(line.status, 'failed');
    assert.equal(line.error?.type, 'cancelled');
    assert.match(line.error?.message ?? '', /respool cancel/);
    assert.equal(line.rate_limited, 2);
  });

  it('skipped by max_cost, rejected input, internal: the status and error type each says', () => {
    const skipped = resultsLine(ctx({ attempts: 0, latencyMs: null }), { kind: 'skipped', message: 'cap reached' });
    assert.equal(skipped.status, 'skipped');
    assert.deepEqual(skipped.error, { type: 'max_cost', message: 'cap reached', status: null });
    const rejected = resultsLine(ctx({ attempts: 0 }), { kind: 'rejected', message: 'file changed' });
    assert.equal(rejected.status, 'rejected');
    assert.deepEqual(rejected.error, { type: 'rejected_input', message: 'file changed', status: null });
    const internal = resultsLine(ctx({ model: '' }), { kind: 'internal', message: 'no settings' });
    assert.equal(internal.status, 'failed');
    assert.deepEqual(internal.error, { type: 'internal', message: 'no settings', status: null });
  });

  it('a rejected job has no model and no attempts', () => {
    const line = rejectedJobLine({ type: 'rejected', run: 'r1', customId: 'bad-1', source: { file: 'x.csv', line: 3 }, reason: 'missing column' }, at);
    assert.equal(line.status, 'rejected');
    assert.equal(line.model, null);
    assert.equal(line.attempts, 0);
    assert.equal(line.error?.message, 'missing column');
    assert.equal(line.finished_at, at.toISOString());
  });

  it("an abandoned job (BullMQ's failed set): internal, its attempts, BullMQ's reason, and a null cost", () => {
    const line = abandonedJobLine(item, 3, 'job stalled more than allowable limit', at);
    assert.equal(line.status, 'failed');
    assert.equal(line.attempts, 3);
    assert.deepEqual(line.error, { type: 'internal', message: 'job stalled more than allowable limit', status: null });
    assert.equal(line.cost, null);
    assert.equal(line.model, null);
    assert.equal(abandonedJobLine(item, 0, '', at).error?.message, 'the job finished without a result');
  });
});

describe('resultsLine: duplicates', () => {
  const callerLine: OutputLine = {
    ...resultsLine(ctx({ item: { ...item, customId: 'row-1' }, rateLimited: 4 }), { kind: 'answer', response: answered(), wantsJson: false }),
    cost: { input: 1, cached_input: 0, output: 1, total: 2, currency: 'USD', source: 'price_table' },
    metadata: { team: 'a' },
  };

  it("copies the caller's outcome under its own identity, with no call, no 429s, no cost", () => {
    const later = new Date('2026-12-04T11:00:00.000Z');
    const line = resultsLine(ctx({ finishedAt: later }), { kind: 'duplicate', answer: callerLine });
    assert.equal(line.custom_id, 'row-7');
    assert.equal(line.duplicate_of, 'row-1');
    assert.equal(line.status, 'completed');
    assert.equal(line.output_text, 'Echo: hi');
    assert.equal(line.attempts, 0);
    assert.equal(line.latency_ms, null);
    assert.equal(line.finished_at, later.toISOString());
    assert.ok(!('rate_limited' in line) && !('cost' in line) && !('metadata' in line));
  });

  it("an item's own kept line comes back unchanged", () => {
    const own = resultsLine(ctx(), { kind: 'answer', response: answered(), wantsJson: false });
    assert.equal(resultsLine(ctx({ finishedAt: new Date() }), { kind: 'duplicate', answer: own }), own);
  });
});
