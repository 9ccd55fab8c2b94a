import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import path from 'node:path';
import type { FakeServer } from '../../src/fake-server/index.js';
import { openRespool, type Job, type Respool } from '../../src/index.js';
import { ROOT, countIds, REDIS_URL, runCli, testPrefix } from '../helpers/cli.js';
import { withFakeServer } from '../helpers/fake-suite.js';
import { runJob } from '../helpers/library.js';

/** The whole pipeline in process, through the library: real Redis and the fake server over real HTTP. */
describe('run: inputs end to end', () => {
  let fake: FakeServer;
  const prefix = testPrefix();
  let dir: string;
  // The inputs are the repository's fixtures, named relative to it as a user would: lines name them so.
  let rp: Respool;

  withFakeServer(prefix, (s) => ({ fake, dir } = s));
  before(async () => {
    rp = await openRespool({ redis: REDIS_URL, prefix, cwd: ROOT });
  });
  after(() => rp.close());

  const run = async (name: string, job: Omit<Job, 'name' | 'model' | 'base_url' | 'out'>) => {
    const done = await runJob(rp, { name, model: 'test-model', base_url: fake.url, out: path.join(dir, `${name}.jsonl`), ...job });
    assert.equal(done.result.outcome, 'complete');
    return done;
  };

  it('CSV with quotes, embedded newlines, BOM, CRLF and unicode: one completed line per row', async () => {
    const { result, lines } = await run('csv', { inputs: 'fixtures/reviews.csv', prompt: 'Label ({{lang}}): {{text}}' });
    assert.equal(result.failedLines, 0);
    assert.deepEqual([...countIds(lines).keys()].sort(), ['r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8']);
    for (const l of lines) {
      assert.equal(l.status, 'completed', JSON.stringify(l));
      assert.ok(l.output_text?.startsWith('Echo: Label ('), l.output_text ?? '');
      assert.ok(l.usage && l.usage.input_tokens > 0 && l.usage.total_tokens === l.usage.input_tokens + l.usage.output_tokens);
      assert.equal(l.attempts, 1);
      assert.ok('file' in l.source && l.source.file === 'fixtures/reviews.csv');
    }
    // The embedded newline travelled intact, and the source line is where the record starts.
    const r2 = lines.find((l) => l.custom_id === 'r2')!;
    assert.ok(r2.output_text?.includes('Stopped working after a week.\n'), r2.output_text ?? '');
    assert.deepEqual(r2.source, { file: 'fixtures/reviews.csv', line: 3 });
    assert.equal(fake.stats().byStatus['400'] ?? 0, 0, 'every request must pass the spec validation');
  });

  it('CSV with a wrong column count and a missing id: rejected lines name file and line, the rest completes', async () => {
    const { result, lines } = await run('csv-bad', { inputs: 'test/fixtures/rows-with-errors.csv', prompt: '{{text}} ({{lang}})' });
    // Rejected lines are not failed ones: nothing to retry.
    assert.equal(result.failedLines, 0);
    const byId = new Map(lines.map((l) => [l.custom_id, l]));
    assert.equal(byId.get('a1')?.status, 'completed');
    assert.equal(byId.get('a6')?.status, 'completed');
    assert.equal(byId.get('a4')?.status, 'completed');
    const rejected = lines.filter((l) => l.status === 'rejected');
    assert.ok(rejected.length >= 3, JSON.stringify(rejected));
    assert.equal(result.enqueued.rejected, rejected.length);
    for (const r of rejected) {
      assert.equal(r.error?.type, 'rejected_input');
      assert.match(r.error!.message, /rows-with-errors\.csv:\d+/);
      assert.equal(r.attempts, 0);
    }
    assert.ok(rejected.some((r) => 'line' in r.source && r.source.line === 3 && /column/i.test(r.error!.message)), 'the too-long row 3');
    assert.equal(lines.length, countIds(lines).size, 'one line per custom_id');
  });

  it('JSONL: prompt, input and batch-style lines are sent; malformed and invalid lines are rejected', async () => {
    const { result, lines } = await run('jsonl', { inputs: 'test/fixtures/mixed.jsonl' });
    assert.equal(result.failedLines, 0);
    const byId = new Map(lines.map((l) => [l.custom_id, l]));
    for (const id of ['p1', 'in1', 'b1', '42']) assert.equal(byId.get(id)?.status, 'completed', `${id}: ${JSON.stringify(byId.get(id))}`);
    // The batch line's body was sent as it is: its own model.
    assert.equal(byId.get('b1')?.model, 'm');
    for (const id of ['b2', 'b3', 'p2']) assert.equal(byId.get(id)?.status, 'rejected', id);
    const malformed = lines.find((l) => l.status === 'rejected' && /not valid JSON|JSON/i.test(l.error?.message ?? '') && 'line' in l.source && l.source.line === 4);
    assert.ok(malformed, `a rejected line for the malformed line 4: ${JSON.stringify(lines.filter((l) => l.status === 'rejected'))}`);
    assert.equal(lines.length, countIds(lines).size);
    assert.equal(fake.stats().byStatus['400'] ?? 0, 0);
  });

  it('image folder: nested folders and uppercase extensions are sent as data URIs; non-images are rejected', async () => {
    fake.reset();
    const { result, lines } = await run('images', { inputs: 'test/fixtures/images', detail: 'low' });
    assert.equal(result.failedLines, 0);
    const byId = new Map(lines.map((l) => [l.custom_id, l]));
    assert.equal(byId.get('ok.png')?.status, 'completed');
    assert.equal(byId.get('nested/deeper/photo.JPG')?.status, 'completed');
    // detail low costs 85 tokens per image at the fake server, on top of the prompt text.
    assert.ok((byId.get('ok.png')!.usage!.input_tokens) >= 85);
    for (const id of ['fake.jpg', 'old.bmp', 'empty.png']) {
      const l = byId.get(id);
      assert.equal(l?.status, 'rejected', `${id}: ${JSON.stringify(l)}`);
      assert.ok(l && 'path' in l.source && l.source.path.endsWith(id));
    }
    assert.ok(!byId.has('.hidden.png') && !byId.has('.cache/skipped.png'), 'dotfiles are skipped');
    assert.equal(fake.stats().requests, 2, 'only the two real images reach the API');
  });

  it('running the same job again adds nothing', async () => {
    fake.reset();
    const { result, lines, written } = await run('csv', { inputs: 'fixtures/reviews.csv', prompt: 'Label ({{lang}}): {{text}}' });
    assert.equal(lines.length, 8);
    assert.deepEqual(written, []);
    assert.equal(result.totals.lines, 0);
    assert.equal(result.enqueued.alreadyDone, 8);
    assert.equal(fake.stats().requests, 0, 'no API call for items already written');
  });
});

describe('run: inputs (command line)', () => {
  let fake: FakeServer;
  const prefix = testPrefix();
  withFakeServer(prefix, (s) => ({ fake } = s));

  it('a bad setting stops before anything is sent, naming the field', async () => {
    const res = await runCli(['--prefix', prefix, 'run', '--input', 'fixtures/reviews.csv', '--model', 'm', '--concurrency', '-3', '--base-url', fake.url], { cwd: ROOT });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /concurrency.*--concurrency/);
  });
});
