import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseResponse } from '../../src/worker/parse-response.js';
import { askStructured, callKey, type Answer } from '../../src/worker/structured/ask.js';
import { labelSchema } from '../../src/config/label-schema.js';
import type { StructuredPlan } from '../../src/config/structured-plan.js';
import { sumUsage } from '../../src/worker/structured/usage-sum.js';
import { checkAnswer } from '../../src/worker/structured/validate.js';
import { canonicalJson, vote } from '../../src/worker/structured/vote.js';

const single = { values: ['positive', 'negative', 'neutral'], multi: false, field: 'label' };
const multi = { values: ['billing', 'shipping', 'quality'], multi: true, field: 'labels' };

describe('checkAnswer', () => {
  const schema = labelSchema({ values: ['a', 'b'], multi: false });
  it('accepts JSON that matches and returns the value', () => {
    assert.deepEqual(checkAnswer('{"label":"a"}', null, schema), { ok: true, value: { label: 'a' } });
  });
  it('names what is wrong: not JSON, no text, a refusal, a value outside the enum, a missing key', () => {
    const notJson = checkAnswer('Sure! {"label":"a"}', null, schema);
    assert.equal(notJson.ok, false);
    assert.match((notJson as { reason: string }).reason, /^output text is not valid JSON/);
    assert.deepEqual(checkAnswer(null, null, schema), { ok: false, reason: 'no output text', value: null });
    assert.match((checkAnswer(null, 'no', schema) as { reason: string }).reason, /refused/);
    const outside = checkAnswer('{"label":"c"}', null, schema);
    assert.equal(outside.ok, false);
    assert.match((outside as { reason: string }).reason, /\/label must be equal to one of the allowed values \("a", "b"\)/);
    assert.deepEqual(outside.value, { label: 'c' }, 'the parsed JSON is kept for the invalid_output line');
    assert.match((checkAnswer('{}', null, schema) as { reason: string }).reason, /must have required property 'label'/);
  });
});

describe('vote', () => {
  it('single label: the most given; a tie goes to the label listed first; invalid samples do not vote', () => {
    assert.deepEqual(vote(['negative', 'positive', 'negative'], single), { majority: 'negative', agreement: 0.667, valid: 3 });
    assert.deepEqual(vote(['neutral', 'positive'], single), { majority: 'positive', agreement: 0.5, valid: 2 });
    assert.deepEqual(vote(['neutral', null, null], single), { majority: 'neutral', agreement: 1, valid: 1 });
    assert.equal(vote([null, null], single), null);
  });
  it('multi-label: labels chosen by more than half, in label order; agreement counts exact sets', () => {
    assert.deepEqual(vote([['shipping', 'billing'], ['billing'], ['billing', 'shipping']], multi), { majority: ['billing', 'shipping'], agreement: 0.667, valid: 3 });
    assert.deepEqual(vote([['quality'], ['billing'], []], multi), { majority: [], agreement: 0.333, valid: 3 });
  });
  it('whole answers: compared with sorted keys; a tie keeps the answer given first', () => {
    assert.deepEqual(vote([{ a: 1, b: 2 }, { b: 2, a: 1 }, { a: 3 }]), { majority: { a: 1, b: 2 }, agreement: 0.667, valid: 3 });
    assert.deepEqual(vote([{ a: 3 }, { a: 1 }])?.majority, { a: 3 });
    assert.equal(canonicalJson({ b: [1, { d: 1, c: 2 }], a: null }), '{"a":null,"b":[1,{"c":2,"d":1}]}');
  });
});

describe('sumUsage', () => {
  it('sums every number, nested details too; keeps one call as it is; null when none had usage', () => {
    const u = (i: number, o: number) => ({ input_tokens: i, input_tokens_details: { cached_tokens: 1 }, output_tokens: o, output_tokens_details: { reasoning_tokens: 2 }, total_tokens: i + o, cost: 0.5, provider: 'x' });
    assert.deepEqual(sumUsage([u(10, 5), null, u(20, 1)]), {
      input_tokens: 30, input_tokens_details: { cached_tokens: 2 }, output_tokens: 6, output_tokens_details: { reasoning_tokens: 4 }, total_tokens: 36, cost: 1, provider: 'x',
    });
    const one = u(1, 1);
    assert.equal(sumUsage([one]), one);
    assert.equal(sumUsage([null, null]), null);
  });
});

/** A scripted model: the i-th call answers texts[i] ('!' = cut off). Records the keys it was called with. */
function scripted(texts: string[]) {
  const keys: string[] = [];
  const askOnce = async (key: string): Promise<Answer<null>> => {
    const text = texts[keys.length] ?? assert.fail(`unexpected call ${keys.length + 1}`);
    keys.push(key);
    const incomplete = text === '!';
    const json = {
      id: `resp_${keys.length}`,
      status: incomplete ? 'incomplete' : 'completed',
      incomplete_details: incomplete ? { reason: 'max_output_tokens' } : null,
      model: 'm',
      output: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: incomplete ? '{"lab' : text }] }],
      usage: { input_tokens: 10, output_tokens: 2, total_tokens: 12 },
    };
    return { response: parseResponse(json, true), raw: null };
  };
  return { keys, askOnce };
}

const plan = (p: Partial<StructuredPlan>): StructuredPlan => ({ schema: labelSchema({ values: single.values, multi: false }), labels: single, samples: 1, invalidRetries: 2, ...p });

describe('askStructured', () => {
  it('a valid first answer: one call, parsed is the object', async () => {
    const m = scripted(['{"label":"neutral"}']);
    const out = await askStructured(plan({}), 'ijob', m.askOnce);
    assert.deepEqual(m.keys, ['ijob']);
    assert.equal(out.fields.status, 'completed');
    assert.deepEqual(out.fields.parsed, { label: 'neutral' });
    assert.equal(out.fields.calls, undefined);
    assert.equal(out.fields.invalid_answers, undefined);
  });

  it('invalid answers are asked again under new keys; the first valid one wins; usage is summed', async () => {
    const m = scripted(['not json', '{"label":"nope"}', '{"label":"negative"}']);
    const out = await askStructured(plan({}), 'ijob', m.askOnce);
    assert.deepEqual(m.keys, ['ijob', 'ijob-r1', 'ijob-r2']);
    assert.equal(out.fields.status, 'completed');
    assert.deepEqual(out.fields.parsed, { label: 'negative' });
    assert.equal(out.fields.invalid_answers, 2);
    assert.equal(out.fields.calls, 3);
    assert.deepEqual(out.fields.usage, { input_tokens: 30, output_tokens: 6, total_tokens: 36 });
    assert.equal(out.fields.response_id, 'resp_3');
  });

  it('still invalid after the re-asks: invalid_output with the raw text of the last answer', async () => {
    const m = scripted(['x', 'y', '{"label":"nope"}']);
    const out = await askStructured(plan({}), 'ijob', m.askOnce);
    assert.equal(out.fields.status, 'invalid_output');
    assert.equal(out.fields.output_text, '{"label":"nope"}');
    assert.deepEqual(out.fields.parsed, { label: 'nope' });
    assert.equal(out.fields.error?.type, 'invalid_output');
    assert.match(out.fields.error?.message ?? '', /allowed values/);
    assert.equal(out.fields.invalid_answers, 3);
  });

  it('invalid_output_retries 0: one call only', async () => {
    const m = scripted(['x']);
    const out = await askStructured(plan({ invalidRetries: 0 }), 'ijob', m.askOnce);
    assert.equal(out.fields.status, 'invalid_output');
    assert.equal(out.fields.parsed, null, 'text that is not JSON has no parsed value');
    assert.equal(m.keys.length, 1);
  });

  it('samples: one call per sample (plus re-asks), the majority in parsed, the vote in samples', async () => {
    const m = scripted(['{"label":"negative"}', 'oops', '{"label":"positive"}', '{"label":"negative"}']);
    const out = await askStructured(plan({ samples: 3 }), 'ijob', m.askOnce);
    assert.deepEqual(m.keys, ['ijob', 'ijob-s2', 'ijob-s2-r1', 'ijob-s3']);
    assert.equal(out.fields.status, 'completed');
    assert.deepEqual(out.fields.parsed, { label: 'negative' });
    assert.deepEqual(out.fields.samples, { n: 3, valid: 3, answers: ['negative', 'positive', 'negative'], majority: 'negative', agreement: 0.667 });
    assert.equal(out.fields.response_id, 'resp_1', 'the first sample that gave the majority');
    assert.equal(out.fields.calls, 4);
    assert.equal(out.fields.usage?.total_tokens, 48);
  });

  it('samples that are all invalid: invalid_output, with the vote empty', async () => {
    const m = scripted(['a', 'b']);
    const out = await askStructured(plan({ samples: 2, invalidRetries: 0 }), 'ijob', m.askOnce);
    assert.equal(out.fields.status, 'invalid_output');
    assert.deepEqual(out.fields.samples, { n: 2, valid: 0, answers: [null, null], majority: null, agreement: 0 });
  });

  it('a cut-off answer ends the item as incomplete, without more calls', async () => {
    const m = scripted(['{"label":"neutral"}', '!']);
    const out = await askStructured(plan({ samples: 3 }), 'ijob', m.askOnce);
    assert.equal(out.fields.status, 'incomplete');
    assert.equal(out.fields.error?.message, 'max_output_tokens');
    assert.equal(m.keys.length, 2);
    assert.equal(out.fields.usage?.total_tokens, 24);
  });

  it('samples finished by an earlier attempt are not asked again; each finished sample is reported', async () => {
    const first = scripted(['{"label":"neutral"}', 'x', '{"label":"neutral"}']);
    const reported: number[] = [];
    let saved: unknown[] = [];
    // The second sample's call fails at the HTTP level: the attempt ends after sample 1 was saved.
    const failing = async (key: string) => {
      if (key.includes('-s2')) throw new Error('HTTP 500');
      return first.askOnce(key);
    };
    await assert.rejects(askStructured(plan({ samples: 3 }), 'ijob', failing, { onSample: async (done) => { reported.push(done.length); saved = JSON.parse(JSON.stringify(done)) as unknown[]; } }), /HTTP 500/);
    assert.deepEqual(reported, [1]);
    const second = scripted(['{"label":"positive"}', '{"label":"neutral"}']);
    const out = await askStructured(plan({ samples: 3 }), 'ijob', second.askOnce, { done: saved as never, onSample: async (done) => void reported.push(done.length) });
    assert.deepEqual(second.keys, ['ijob-s2', 'ijob-s3'], 'sample 1 is not asked again');
    assert.deepEqual(reported, [1, 2]);
    assert.deepEqual(out.fields.samples?.answers, ['neutral', 'positive', 'neutral']);
    assert.equal(out.fields.calls, 3);
    assert.equal(out.fields.usage?.total_tokens, 36);
  });

  it('callKey: the first call keeps the job id', () => {
    assert.equal(callKey('i1', 0, 0), 'i1');
    assert.equal(callKey('i1', 2, 1), 'i1-s3-r1');
  });
});
