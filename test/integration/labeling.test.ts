/**
 * Structured labeling end to end: runs with labels, a schema, re-asks and samples, in process through
 * the library against the fake server over HTTP and a real Redis; then `respool export` on the results.
 * A labeling run killed and started again stays on the command line (it kills the process).
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { FakeServer } from '../../src/fake-server/index.js';
import type { OutputLine } from '../../src/core/output-line.js';
import { ConfigError, ExportInputError, type Job, type Respool } from '../../src/index.js';
import { jobIdFor } from '../../src/queue/keys.js';
import { numberedIds, writePrompts } from '../helpers/prompts.js';
import { finished, readLines, runCli, spawnCli, testPrefix, waitFor } from '../helpers/cli.js';
import { withFakeServer } from '../helpers/fake-suite.js';
import { runJob, withLibrary } from '../helpers/library.js';

const UNSUCCESSFUL = new Set(['failed', 'incomplete', 'invalid_output']);

describe('structured labeling', () => {
  let fake: FakeServer;
  let rp: Respool;
  const prefix = testPrefix();
  let dir: string;

  let messages: string[];
  withLibrary(prefix, (s) => ({ fake, dir, rp, messages } = s));

  /** Writes the input, runs the job in process, returns its result and its lines by custom_id. */
  async function label(name: string, job: Omit<Job, 'inputs'>, input: { file: string; text: string }) {
    await writeFile(path.join(dir, input.file), input.text);
    fake.reset();
    const { result, lines } = await runJob(rp, { name, inputs: [input.file], model: 'lab-model', base_url: fake.url, out: `${name}-out.jsonl`, concurrency: 4, backoff_ms: 10, ...job });
    assert.equal(result.outcome, 'complete');
    // failedLines counts exactly the failed, incomplete and invalid_output lines (the command line's exit code 5).
    assert.equal(result.failedLines, lines.filter((l) => UNSUCCESSFUL.has(l.status)).length);
    return { result, lines, byId: new Map(lines.map((l) => [l.custom_id, l])) };
  }

  const jsonl = (rows: Array<Record<string, unknown>>) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
  const get = (m: Map<string, OutputLine>, id: string): OutputLine => m.get(id) ?? assert.fail(`no line for ${id}`);

  it('single label: every answer is one of the labels, checked, in parsed; the request passed the spec', async () => {
    const { lines, byId } = await label(
      'single',
      { labels: ['positive', 'negative', 'neutral'], prompt: 'Review: {{text}}' },
      { file: 'single.csv', text: 'id,text\na,"I am positive about it"\nb,Very negative experience\nc,Just neutral\nd,No label word here\n' },
    );
    assert.equal(lines.length, 4);
    assert.deepEqual(get(byId, 'a').parsed, { label: 'positive' });
    assert.deepEqual(get(byId, 'b').parsed, { label: 'negative' });
    assert.deepEqual(get(byId, 'c').parsed, { label: 'neutral' });
    const d = get(byId, 'd');
    assert.equal(d.status, 'completed');
    assert.ok(['positive', 'negative', 'neutral'].includes((d.parsed as { label: string }).label));
    for (const l of lines) {
      assert.equal(l.output_text, JSON.stringify(l.parsed), 'output_text is the raw answer');
      assert.equal(l.invalid_answers, undefined);
      assert.equal(l.samples, undefined);
    }
    const stats = fake.stats();
    assert.equal(stats.byStatus['400'] ?? 0, 0, 'the strict json_schema format passed the spec validation');
    assert.equal(stats.requests, 4);
  });

  it('multi-label: a list of the labels that apply, under the field named', async () => {
    const { byId } = await label(
      'multi',
      { labels: { values: ['billing', 'shipping', 'quality'], multi: true, field: 'topics' } },
      { file: 'multi.jsonl', text: jsonl([{ custom_id: 'm1', prompt: 'The shipping was slow and billing wrong' }, { custom_id: 'm2', prompt: 'quality!' }]) },
    );
    assert.deepEqual(get(byId, 'm1').parsed, { topics: ['billing', 'shipping'] });
    assert.deepEqual(get(byId, 'm2').parsed, { topics: ['quality'] });
  });

  it('a full schema: nested answers are validated and parsed', async () => {
    const schema = {
      type: 'object',
      properties: {
        product: { type: 'string' },
        rating: { type: 'integer', minimum: 1, maximum: 5 },
        address: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
      },
      required: ['product', 'rating', 'address'],
      additionalProperties: false,
    };
    const { byId } = await label('schema', { schema }, { file: 'schema.jsonl', text: jsonl([{ custom_id: 's1', prompt: 'extract' }, { custom_id: 's2', prompt: 'extract [[invalid_schema]]' }]) });
    const s1 = get(byId, 's1');
    assert.equal(s1.status, 'completed');
    assert.deepEqual(s1.parsed, { product: 'sample', rating: 1, address: { city: 'sample' } });
    assert.equal(get(byId, 's2').status, 'invalid_output');
  });

  it('invalid answers are asked again (new Idempotency-Keys), then invalid_output with the raw text', async () => {
    const { byId } = await label(
      'invalid',
      { labels: ['yes', 'no'], invalid_output_retries: 2 },
      {
        file: 'invalid.jsonl',
        text: jsonl([
          { custom_id: 'late', prompt: 'say no [[invalid_first:2]]' },
          { custom_id: 'never', prompt: 'say yes [[invalid_schema]]' },
          { custom_id: 'prose', prompt: 'say yes [[invalid_json]]' },
          { custom_id: 'fine', prompt: 'say yes' },
        ]),
      },
    );
    const late = get(byId, 'late');
    assert.equal(late.status, 'completed');
    assert.deepEqual(late.parsed, { label: 'no' });
    assert.equal(late.invalid_answers, 2);
    assert.equal(late.calls, 3);
    assert.equal(late.attempts, 1, 're-asks do not use attempts');

    const never = get(byId, 'never');
    assert.equal(never.status, 'invalid_output');
    assert.equal(never.output_text, '{"note":"this answer leaves out label"}', 'the raw text of the last answer');
    assert.deepEqual(never.parsed, { note: 'this answer leaves out label' });
    assert.equal(never.error?.type, 'invalid_output');
    assert.match(never.error?.message ?? '', /must have required property 'label'/);
    assert.equal(never.invalid_answers, 3);
    assert.equal(never.calls, 3);

    const prose = get(byId, 'prose');
    assert.equal(prose.status, 'invalid_output');
    assert.equal(prose.parsed, null);
    assert.match(prose.output_text ?? '', /^Sure! Here is the JSON/);
    assert.match(prose.error?.message ?? '', /not valid JSON/);
    assert.equal(get(byId, 'fine').calls, undefined);

    // Each re-ask is its own request to the API, under its own Idempotency-Key.
    const job = jobIdFor('invalid', 'never');
    const keys = fake.stats().byKey;
    assert.deepEqual([keys[job], keys[`${job}-r1`], keys[`${job}-r2`], keys[`${job}-r3`]], [1, 1, 1, undefined]);
    assert.equal(fake.stats().requests, 3 + 3 + 3 + 1);
  });

  it('a configured rate of invalid answers: re-asked until valid, or invalid_output; one line each', async () => {
    fake.setOptions({ faults: { rateInvalid: 0.5, seed: 3 } });
    try {
      const ids = numberedIds('q', 40);
      const { lines } = await label('rate', { labels: ['a', 'b'], invalid_output_retries: 1 }, { file: 'rate.jsonl', text: jsonl(ids.map((id) => ({ custom_id: id, prompt: `item ${id}` }))) });
      assert.equal(lines.length, 40);
      const reasked = lines.filter((l) => (l.invalid_answers ?? 0) > 0);
      assert.ok(reasked.length > 0, 'some answers were invalid');
      for (const l of lines) {
        if (l.status === 'completed') assert.ok(['a', 'b'].includes((l.parsed as { label: string }).label));
        else assert.equal(l.status, 'invalid_output');
        assert.equal(l.calls ?? 1, 1 + Math.min(l.invalid_answers ?? 0, 1));
      }
      assert.equal(fake.stats().requests, lines.reduce((n, l) => n + (l.calls ?? 1), 0));
    } finally {
      fake.setOptions({ faults: {} });
    }
  });

  it('samples: N calls per item, the majority label in parsed, the answers and agreement in samples, usage summed', async () => {
    const { lines, byId, result } = await label(
      'samples',
      { labels: ['positive', 'negative', 'neutral'], samples: 3 },
      {
        file: 'samples.jsonl',
        text: jsonl([
          { custom_id: 'split', prompt: 'hmm [[votes:negative|positive|negative]]' },
          { custom_id: 'same', prompt: 'clearly positive' },
          { custom_id: 'reask', prompt: 'x [[votes:neutral]] [[invalid_first:1]]' },
        ]),
      },
    );
    const split = get(byId, 'split');
    assert.deepEqual(split.parsed, { label: 'negative' });
    assert.deepEqual(split.samples, { n: 3, valid: 3, answers: ['negative', 'positive', 'negative'], majority: 'negative', agreement: 0.667 });
    assert.equal(split.calls, 3);
    const same = get(byId, 'same');
    assert.deepEqual(same.samples, { n: 3, valid: 3, answers: ['positive', 'positive', 'positive'], majority: 'positive', agreement: 1 });
    const reask = get(byId, 'reask');
    assert.equal(reask.invalid_answers, 1);
    assert.equal(reask.calls, 4, 'three samples, the first asked twice');
    assert.equal(reask.samples?.agreement, 1);

    // Usage on a line is the sum over its calls: the server's token counts add up to the lines'.
    const stats = fake.stats();
    assert.equal(stats.requests, lines.reduce((n, l) => n + (l.calls ?? 1), 0));
    assert.equal(lines.reduce((n, l) => n + (l.usage?.input_tokens ?? 0), 0), stats.inputTokens);
    assert.equal(lines.reduce((n, l) => n + (l.usage?.output_tokens ?? 0), 0), stats.outputTokens);
    assert.equal(result.totals.apiCalls, stats.requests, 'the totals count every call');
  });

  it('an attempt that fails between samples goes on from the sample it reached, without paying again', async () => {
    fake.setOptions({ faults: { failFirst: 1, failKinds: ['500'] } });
    try {
      const { byId } = await label(
        'resume',
        { labels: ['positive', 'negative', 'neutral'], samples: 3, attempts: 5 },
        { file: 'resume.jsonl', text: jsonl([{ custom_id: 'r', prompt: 'x [[votes:negative|negative|positive]]' }]) },
      );
      const r = get(byId, 'r');
      assert.equal(r.status, 'completed');
      // Every key failed once: four attempts, and each sample was answered exactly once.
      assert.equal(r.attempts, 4);
      assert.equal(r.calls, 3);
      assert.deepEqual(r.samples?.answers, ['negative', 'negative', 'positive']);
      const job = jobIdFor('resume', 'r');
      const keys = fake.stats().byKey;
      assert.deepEqual([keys[job], keys[`${job}-s2`], keys[`${job}-s3`]], [2, 2, 2]);
      assert.equal(fake.stats().byStatus['200'], 3);
    } finally {
      fake.setOptions({ faults: {} });
    }
  });

  it('multi-label samples: labels chosen by more than half of the samples', async () => {
    const { byId } = await label(
      'multisamples',
      { labels: { values: ['billing', 'shipping', 'quality'], multi: true }, samples: 3 },
      { file: 'ms.jsonl', text: jsonl([{ custom_id: 'x', prompt: 'a [[votes:shipping+billing|billing|billing+quality]]' }]) },
    );
    assert.deepEqual(get(byId, 'x').parsed, { labels: ['billing'] });
    assert.deepEqual(get(byId, 'x').samples, { n: 3, valid: 3, answers: [['billing', 'shipping'], ['billing'], ['billing', 'quality']], majority: ['billing'], agreement: 0.333 });
  });

  // `respool export` is the command line's own: it runs in the folder the run read its inputs from,
  // where the paths in the lines' ids (duplicates: `<path>:<line>`) are the ones the run saw.
  it('export: results joined onto the CSV rows, answer fields as columns, rows without a result kept', async () => {
    const schema = {
      type: 'object',
      properties: { label: { type: 'string', enum: ['good', 'bad'] }, detail: { type: 'object', properties: { score: { type: 'number' } }, required: ['score'], additionalProperties: false } },
      required: ['label', 'detail'],
      additionalProperties: false,
    };
    const csv = 'id,text,status\nr1,"a good one, really",x\nr2,"bad\nvery bad",y\nr3,[[invalid_schema]],z\n';
    await label('exp', { schema, prompt: '{{text}}' }, { file: 'exp.csv', text: csv });
    // The input grew since the run: r4 and an id-less row have no result.
    const bigger = path.join(dir, 'exp-more.csv');
    await writeFile(bigger, `${csv}r4,new row,w\n`);
    // The test model has no price (cost null): give r1 a cost the way the cost field reads.
    const resultsFile = path.join(dir, 'exp-out.jsonl');
    const priced = (await readFile(resultsFile, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const line = JSON.parse(l) as { custom_id: string; cost?: unknown };
        if (line.custom_id === 'r1') line.cost = { input: 0.001, cached_input: 0, output: 0.002, total: 0.003, currency: 'USD', source: 'price_table' };
        return `${JSON.stringify(line)}\n`;
      });
    await writeFile(resultsFile, priced.join(''));

    const outCsv = path.join(dir, 'labeled.csv');
    messages.length = 0;
    const stats = await rp.export(resultsFile, { join: bigger, out: outCsv });
    assert.deepEqual([stats.rows, stats.withResult, stats.withoutResult, stats.unmatchedResults], [4, 3, 1, 0]);
    assert.ok(messages.some((m) => /exported 4 rows .*: 3 with a result, 1 without/.test(m)), messages.join('\n'));
    assert.equal(
      await readFile(outCsv, 'utf8'),
      [
        'id,text,status,label,detail.score,result.status,error,cost',
        'r1,"a good one, really",x,good,1,completed,,0.003',
        'r2,"bad\nvery bad",y,bad,1,completed,,',
        "r3,[[invalid_schema]],z,,,invalid_output,the answer does not match the schema: / must have required property 'label'; / must have required property 'detail'; / must NOT have additional properties,",
        'r4,new row,w,,,no_result,,',
        '',
      ].join('\r\n'),
    );

    const outJsonl = path.join(dir, 'labeled.jsonl');
    // Relative paths resolve against the library's cwd.
    await rp.export('exp-out.jsonl', { join: 'exp-more.csv', out: 'labeled.jsonl' });
    const rows = (await readFile(outJsonl, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(rows[0], { id: 'r1', text: 'a good one, really', status: 'x', label: 'good', 'detail.score': 1, 'result.status': 'completed', error: null, cost: 0.003 });
    assert.deepEqual(rows[3], { id: 'r4', text: 'new row', status: 'w', label: null, 'detail.score': null, 'result.status': 'no_result', error: null, cost: null });
  });

  it('export finds the lines the run wrote for bad rows: a repeated id, a wrong field count, an empty id', async () => {
    const csv = 'id,text\na,one positive\na,again\nb,too,many\n,no id\nc,fine negative\n';
    await label('bad', { labels: ['positive', 'negative'], prompt: '{{text}}' }, { file: 'bad.csv', text: csv });
    const lines = await readLines(path.join(dir, 'bad-out.jsonl'));
    assert.equal(lines.filter((l) => l.status === 'rejected').length, 3);
    // The repeated id names the row that used it first, in the folder the run read it from.
    assert.equal(lines.find((l) => l.custom_id === 'bad.csv:3')?.error?.message, `duplicate custom_id "a" (first used at ${path.join(dir, 'bad.csv')}:2)`);
    const out = path.join(dir, 'bad-export.csv');
    const stats = await rp.export(path.join(dir, 'bad-out.jsonl'), { join: path.join(dir, 'bad.csv'), out });
    assert.deepEqual([stats.rows, stats.withResult, stats.withoutResult], [5, 5, 0]);
    assert.equal(stats.unmatchedResults, 0, 'every result found its row');
    const rows = (await readFile(out, 'utf8')).split('\r\n').map((r) => r.split(',').slice(0, 4).join(','));
    assert.deepEqual(rows.slice(0, 6), ['id,text,label,status', 'a,one positive,positive,completed', 'a,again,,rejected', 'b,too,,rejected', ',no id,,rejected', 'c,fine negative,negative,completed']);
  });

  it('export joins onto a JSONL input too: its fields as columns, ids as the JSONL reader made them', async () => {
    const text = [
      JSON.stringify({ custom_id: 'j1', prompt: 'billing trouble', lang: 'en' }),
      '',
      JSON.stringify({ prompt: 'no id, about shipping', extra: { nested: true } }),
      'not json',
      JSON.stringify({ custom_id: 7, prompt: 'numeric id, quality' }),
    ].join('\n') + '\n';
    await label('jexp', { labels: { values: ['billing', 'shipping', 'quality'], multi: true } }, { file: 'jexp.jsonl', text });
    const out = path.join(dir, 'jexp.csv');
    await rp.export(path.join(dir, 'jexp-out.jsonl'), { join: path.join(dir, 'jexp.jsonl'), out });
    const rows = (await readFile(out, 'utf8')).split('\r\n');
    assert.equal(rows[0], 'custom_id,prompt,lang,extra,labels,status,error,cost');
    assert.equal(rows[1], 'j1,billing trouble,en,,billing,completed,,');
    // No custom_id field: found by `jexp.jsonl:3`, the reader's fallback id.
    assert.equal(rows[2], ',"no id, about shipping",,"{""nested"":true}",shipping,completed,,');
    assert.match(rows[3]!, /^,,,,,rejected,"[^"]*jexp\.jsonl:4: malformed JSON/);
    assert.equal(rows[4], '7,"numeric id, quality",,,quality,completed,,');
  });

  it('export without an id column: rows are found by <file name>:<line>, as the reader named them; samples add agreement', async () => {
    const csv = 'text\nfirst is positive\n\n"second,\nnegative"\n';
    await label('noid', { labels: ['positive', 'negative'], samples: 2, prompt: '{{text}}' }, { file: 'noid.csv', text: csv });
    const out = path.join(dir, 'noid-out.csv');
    await rp.export(path.join(dir, 'noid-out.jsonl'), { join: path.join(dir, 'noid.csv'), out });
    assert.equal(await readFile(out, 'utf8'), 'text,label,status,error,cost,agreement\r\nfirst is positive,positive,completed,,,1\r\n"second,\nnegative",negative,completed,,,1\r\n');
  });

  it('export refuses, naming the option: an out of no known format, a join that is no table, a missing file, an out that is an input', async () => {
    await label('refuse', { labels: ['positive', 'negative'], prompt: '{{text}}' }, { file: 'refuse.csv', text: 'id,text\nr1,good\n' });
    const config = (re: RegExp) => (err: Error) => err instanceof ConfigError && re.test(err.message);
    await assert.rejects(rp.export('refuse-out.jsonl', { join: 'refuse.csv', out: 'x.txt' }), config(/^out x\.txt: cannot tell the format from the extension; give format csv or format jsonl/));
    await assert.rejects(rp.export('refuse-out.jsonl', { join: 'refuse.txt', out: 'x.csv' }), config(/^join refuse\.txt: give the CSV or JSONL input/));
    await assert.rejects(rp.export('nope.jsonl', { join: 'refuse.csv', out: 'x.csv' }), (err: Error) => err instanceof ExportInputError && err.message === 'cannot read nope.jsonl');
    await assert.rejects(rp.export('refuse-out.jsonl', { join: 'refuse.csv', out: 'refuse.csv' }), config(/^out refuse\.csv would overwrite an input of the export/));
    assert.equal(await readFile(path.join(dir, 'refuse.csv'), 'utf8'), 'id,text\nr1,good\n', 'the input is untouched');
  });
});

describe('openai-batch output', () => {
  let fake: FakeServer;
  let rp: Respool;
  const prefix = testPrefix();
  let dir: string;
  withLibrary(prefix, (s) => ({ fake, dir, rp } = s));

  it('a provider batch input file comes back as provider batch output lines, with the real response bodies', async () => {
    const schema = { type: 'object', properties: { label: { type: 'string', enum: ['spam', 'ham'] } }, required: ['label'], additionalProperties: false };
    const lines = [
      { custom_id: 'b1', method: 'POST', url: '/v1/responses', body: { model: 'gpt-x', input: 'Say hello.' } },
      { custom_id: 'b2', method: 'POST', url: '/v1/responses', body: { model: 'gpt-x', input: 'is this spam?', text: { format: { type: 'json_schema', name: 'l', strict: true, schema } } } },
      { custom_id: 'b3', method: 'POST', url: '/v1/responses', body: { model: 'gpt-x', input: 'bad [[status:400]]' } },
      { custom_id: 'b4', method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt-x', messages: [] } },
    ];
    const input = path.join(dir, 'batch-input.jsonl');
    await writeFile(input, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const out = path.join(dir, 'batch-output.jsonl');
    const { result } = await runJob(rp, { name: 'batch', inputs: input, model: 'unused', base_url: fake.url, out, output_format: 'openai-batch', attempts: 1 });
    // b3 is refused: one failed line (b4, a rejected input, is not one).
    assert.equal(result.outcome, 'complete');
    assert.equal(result.failedLines, 1);
    assert.equal(result.unsuccessful.byStatus.failed, 1);
    const got = new Map((await readFile(out, 'utf8')).trim().split('\n').map((t) => {
      const l = JSON.parse(t) as { id: string; custom_id: string; response: { status_code: number; request_id: string | null; body: Record<string, unknown> } | null; error: { code: string; message: string } | null };
      return [l.custom_id, l] as const;
    }));
    assert.deepEqual([...got.keys()].sort(), ['b1', 'b2', 'b3', 'b4']);
    for (const l of got.values()) {
      assert.deepEqual(Object.keys(l).sort(), ['custom_id', 'error', 'id', 'response']);
      assert.equal(l.id, `batch_req_${jobIdFor('batch', l.custom_id).slice(1)}`);
    }
    const b1 = got.get('b1')!;
    assert.equal(b1.error, null);
    assert.equal(b1.response?.status_code, 200);
    assert.match(b1.response?.request_id ?? '', /^req_/, 'the x-request-id header of the answer');
    // The whole ResponseResource as the server sent it, every field the spec requires included.
    assert.equal(b1.response?.body.object, 'response');
    assert.equal(b1.response?.body.model, 'gpt-x');
    assert.ok('prompt_cache_key' in (b1.response?.body ?? {}) && 'tools' in (b1.response?.body ?? {}));
    const parts = (b1.response?.body.output as Array<{ type: string; content?: Array<{ text: string }> }>).find((o) => o.type === 'message')?.content?.map((c) => c.text);
    assert.equal(parts?.join(''), 'Echo: Say hello.');
    const b2 = got.get('b2')!;
    assert.equal(b2.response?.status_code, 200);
    const b3 = got.get('b3')!;
    assert.equal(b3.response?.status_code, 400);
    assert.deepEqual(b3.response?.body, { error: { message: 'The request was rejected.', type: 'invalid_request_error', param: null, code: 'invalid_request' } });
    assert.equal(b3.error, null);
    const b4 = got.get('b4')!;
    assert.equal(b4.response, null);
    assert.equal(b4.error?.code, 'rejected_input');
    assert.equal(fake.stats().requests, 3);

    // And back: export reads batch lines too.
    const csvIn = path.join(dir, 'ids.csv');
    await writeFile(csvIn, 'custom_id,note\nb1,x\nb2,y\nb3,z\nb5,none\n');
    const exported = path.join(dir, 'batch.csv');
    await rp.export(out, { join: csvIn, out: exported });
    const rows = (await readFile(exported, 'utf8')).split('\r\n');
    assert.equal(rows[0], 'custom_id,note,label,status,error,cost');
    assert.match(rows[2]!, /^b2,y,(spam|ham),completed,,$/);
    assert.equal(rows[3], 'b3,z,,failed,The request was rejected.,');
    assert.equal(rows[4], 'b5,none,,no_result,,');
  });

  it('structured runs in batch format: the body of the answer the line reports, invalid_output in error', async () => {
    const input = path.join(dir, 'lab.jsonl');
    await writeFile(input, [{ custom_id: 'ok', prompt: 'spam offer' }, { custom_id: 'bad', prompt: 'spam [[invalid_schema]]' }].map((l) => JSON.stringify(l)).join('\n') + '\n');
    const { result } = await runJob(rp, { name: 'labbatch', inputs: ['lab.jsonl'], model: 'm', base_url: fake.url, labels: ['spam', 'ham'], invalid_output_retries: 1, output_format: 'openai-batch', out: 'lab-out.jsonl' });
    // 'bad' ends invalid_output: one unsuccessful line.
    assert.equal(result.outcome, 'complete');
    assert.equal(result.failedLines, 1);
    assert.equal(result.unsuccessful.byStatus.invalid_output, 1);
    const got = new Map((await readFile(path.join(dir, 'lab-out.jsonl'), 'utf8')).trim().split('\n').map((t) => {
      const l = JSON.parse(t) as { custom_id: string; response: { status_code: number; body: { output: Array<{ type: string; content?: Array<{ text: string }> }> } } | null; error: { code: string } | null };
      return [l.custom_id, l] as const;
    }));
    const text = (id: string) => got.get(id)?.response?.body.output.find((o) => o.type === 'message')?.content?.map((c) => c.text).join('');
    assert.equal(text('ok'), '{"label":"spam"}');
    assert.equal(got.get('ok')?.error, null);
    assert.equal(text('bad'), '{"note":"this answer leaves out label"}');
    assert.equal(got.get('bad')?.error?.code, 'invalid_output');
  });
});

describe('a sampled labeling run killed and started again (command line)', () => {
  let fake: FakeServer;
  const prefix = testPrefix();
  let dir: string;
  withFakeServer(prefix, (s) => ({ fake, dir } = s), { latencyMs: 40 });

  it('every item ends with one batch line, and finished samples are not paid for twice', async () => {
    const ids = numberedIds('k', 120);
    const input = path.join(dir, 'kill.jsonl');
    await writePrompts(input, ids.map((id) => [id, `item ${id}`]));
    const job = path.join(dir, 'kill.json');
    await writeFile(job, JSON.stringify({ name: 'kill', inputs: ['kill.jsonl'], model: 'm', labels: ['a', 'b', 'c'], samples: 3, output_format: 'openai-batch', concurrency: 10, out: 'kill-out.jsonl' }));
    const out = path.join(dir, 'kill-out.jsonl');
    const env = { RESPOOL_LOCK_DURATION_MS: '2000', RESPOOL_STALLED_INTERVAL_MS: '1000' };
    const args = ['--prefix', prefix, 'run', job, '--base-url', fake.url];
    const count = async () => (await readFile(out, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;

    const first = spawnCli(args, { env });
    const firstDone = finished(first);
    await waitFor(async () => (await count()) >= 30, 60_000, '30 lines before the kill');
    first.kill('SIGKILL');
    assert.equal((await firstDone).signal, 'SIGKILL');
    assert.ok((await count()) < ids.length, 'killed before the end');

    const second = await runCli(args, { env });
    assert.equal(second.code, 0, second.stderr);
    const lines = (await readFile(out, 'utf8')).trim().split('\n').map((t) => JSON.parse(t) as { custom_id: string; response: { status_code: number } | null });
    assert.deepEqual(lines.map((l) => l.custom_id).sort(), [...ids].sort(), 'each custom_id exactly once');
    assert.ok(lines.every((l) => l.response?.status_code === 200));
    // Only the calls in flight when the process died (at most one per item, 10 at once) were made twice.
    const calls = Object.values(fake.stats().byKey);
    const extra = calls.reduce((n, c) => n + (c - 1), 0);
    assert.ok(extra <= 10, `calls made twice: ${extra}`);
    assert.equal(fake.stats().requests, ids.length * 3 + extra);
  });
});
