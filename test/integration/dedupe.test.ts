import assert from 'node:assert/strict';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { OutputLine } from '../../src/core/output-line.js';
import type { FakeServer } from '../../src/fake-server/index.js';
import { openRespool, type Job, type Respool, type RunResult } from '../../src/index.js';
import { assertEachIdOnce, finished, readLines, REDIS_URL, ROOT, runCli, spawnCli, testPrefix, waitFor } from '../helpers/cli.js';
import { withFakeServer } from '../helpers/fake-suite.js';
import { runJob, withLibrary } from '../helpers/library.js';
import { dumpPrefix } from '../helpers/redis-scan.js';

const KEY = 'sk-dedupe-test';
const UNSUCCESSFUL = new Set(['failed', 'incomplete', 'invalid_output']);

/** The one line of `ids` that called, and the others: copies of its outcome that say so. */
function assertShared(lines: OutputLine[], ids: string[]): OutputLine {
  const group = lines.filter((l) => ids.includes(l.custom_id));
  assert.equal(group.length, ids.length);
  const callers = group.filter((l) => l.duplicate_of === undefined);
  assert.equal(callers.length, 1, `one caller among ${ids.join(', ')}: ${JSON.stringify(group)}`);
  const caller = callers[0]!;
  assert.ok(caller.attempts >= 1);
  for (const dup of group.filter((l) => l !== caller)) {
    assert.equal(dup.duplicate_of, caller.custom_id);
    assert.equal(dup.status, caller.status);
    assert.equal(dup.output_text, caller.output_text);
    assert.deepEqual(dup.usage, caller.usage);
    assert.equal(dup.response_id, caller.response_id);
    assert.deepEqual(dup.error, caller.error);
    assert.equal(dup.attempts, 0, 'no call of its own');
    assert.equal(dup.cost?.total, 0, 'paid once, on the caller\'s line');
  }
  return caller;
}

async function writeCsv(dir: string, name: string, rows: Array<[string, string]>): Promise<string> {
  const file = path.join(dir, `${name}.csv`);
  await writeFile(file, ['id,text', ...rows.map(([id, text]) => `${id},"${text}"`)].join('\n') + '\n');
  return file;
}

const byId = (lines: OutputLine[]) => new Map(lines.map((l) => [l.custom_id, l]));

/** A complete run whose failedLines are exactly its failed, incomplete and invalid_output lines. */
function assertComplete(result: RunResult, lines: OutputLine[]): void {
  assert.equal(result.outcome, 'complete');
  assert.equal(result.failedLines, lines.filter((l) => UNSUCCESSFUL.has(l.status)).length);
}

/** Identical requests of a run: one call, one paid answer, a line per item. In process, real Redis and fake server. */
describe('identical requests share one call', () => {
  let fake: FakeServer;
  let rp: Respool;
  const prefix = testPrefix();
  let dir: string;

  withLibrary(prefix, (s) => ({ fake, dir, rp } = s), { apiKey: KEY });

  const out = (name: string) => path.join(dir, `${name}.jsonl`);
  const run = (name: string, job: Omit<Job, 'name' | 'base_url' | 'out'>) => runJob(rp, { name, base_url: fake.url, out: out(name), ...job });
  const csv = (name: string, rows: Array<[string, string]>) => writeCsv(dir, name, rows);

  it('the same image twice in a folder (a copy under another name): one call, two lines, one duplicate_of', async () => {
    fake.reset();
    const images = path.join(dir, 'imgs');
    await mkdir(images, { recursive: true });
    await copyFile(path.join(ROOT, 'test/fixtures/images/ok.png'), path.join(images, 'a.png'));
    await copyFile(path.join(ROOT, 'test/fixtures/images/ok.png'), path.join(images, 'b-copy.png'));
    await copyFile(path.join(ROOT, 'test/fixtures/images/nested/deeper/photo.JPG'), path.join(images, 'other.jpg'));
    const { result, lines } = await run('imgs', { inputs: images, model: 'gpt-4o-mini', detail: 'low' });
    assert.equal(result.outcome, 'complete');
    assert.equal(result.failedLines, 0);
    assertEachIdOnce(lines, ['a.png', 'b-copy.png', 'other.jpg']);
    assert.equal(fake.stats().requests, 2, 'one call for the two identical images, one for the other');
    const caller = assertShared(lines, ['a.png', 'b-copy.png']);
    assert.equal(caller.status, 'completed');
    assert.ok(caller.cost && caller.cost.total > 0, 'the caller carries the real cost');
    const dup = lines.find((l) => l.duplicate_of !== undefined)!;
    assert.ok('path' in dup.source && dup.source.path.endsWith(dup.custom_id), 'a duplicate keeps its own source');
    assert.equal(byId(lines).get('other.jpg')!.duplicate_of, undefined);
  });

  it('identical CSV prompts: one call; report counts the tokens and cost once', async () => {
    fake.reset();
    // The latency keeps the first call in flight while its twin claims the request: the twin waits.
    const file = await csv('rows', [
      ['r1', '[[latency:400]] Is this kettle good?'],
      ['r2', '[[latency:400]] Is this kettle good?'],
      ['r3', '[[latency:400]] Is this kettle good?'],
      ['r4', 'A different question.'],
    ]);
    const { result, lines } = await run('rows', { inputs: file, prompt: '{{text}}', model: 'gpt-4o-mini' });
    assert.equal(result.outcome, 'complete');
    assert.equal(result.failedLines, 0);
    assertEachIdOnce(lines, ['r1', 'r2', 'r3', 'r4']);
    assert.equal(fake.stats().requests, 2);
    const caller = assertShared(lines, ['r1', 'r2', 'r3']);
    const r4 = byId(lines).get('r4')!;

    const total = (JSON.parse(await rp.report([out('rows')], { format: 'json' })) as { total: { lines: number; tokens: { input: number; output: number }; cost_nanos: number } }).total;
    assert.equal(total.lines, 4);
    assert.equal(total.tokens.input, caller.usage!.input_tokens + r4.usage!.input_tokens, 'the twins\' tokens are not counted again');
    assert.equal(total.tokens.output, caller.usage!.output_tokens + r4.usage!.output_tokens);
    assert.equal(total.cost_nanos, Math.round(caller.cost!.total * 1e9) + Math.round(r4.cost!.total * 1e9));
    // The run's totals (the end-of-run summary) agree: two API calls, the tokens counted once.
    assert.equal(result.totals.apiCalls, 2);
    assert.equal(result.totals.tokens.input, total.tokens.input);
  });

  it('dedupe: false in the job: every item calls', async () => {
    fake.reset();
    const file = await csv('off', [['o1', 'Same words.'], ['o2', 'Same words.']]);
    const { result, lines } = await run('off', { inputs: file, prompt: '{{text}}', model: 'm', dedupe: false });
    assert.equal(result.outcome, 'complete');
    assert.equal(result.failedLines, 0);
    assert.equal(fake.stats().requests, 2);
    assert.equal(lines.length, 2);
    assert.ok(lines.every((l) => l.duplicate_of === undefined && l.attempts === 1));
  });

  it('requests that differ in a setting (instructions, model) are called each; the order of keys does not matter', async () => {
    fake.reset();
    const file = path.join(dir, 'bodies-input.jsonl');
    const input = [{ type: 'message', role: 'user', content: 'Name a colour.' }];
    const requests = [
      { custom_id: 'plain', method: 'POST', url: '/v1/responses', body: { model: 'm', input } },
      { custom_id: 'reordered', method: 'POST', url: '/v1/responses', body: { input, model: 'm' } },
      { custom_id: 'instructed', method: 'POST', url: '/v1/responses', body: { model: 'm', input, instructions: 'Answer in French.' } },
      { custom_id: 'other-model', method: 'POST', url: '/v1/responses', body: { model: 'm2', input } },
    ];
    await writeFile(file, requests.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const { result, lines: written } = await run('bodies', { inputs: file, model: 'm' });
    assert.equal(result.outcome, 'complete');
    assert.equal(result.failedLines, 0);
    assertEachIdOnce(written, ['plain', 'reordered', 'instructed', 'other-model']);
    assert.equal(fake.stats().requests, 3);
    assertShared(written, ['plain', 'reordered']);
    assert.equal(byId(written).get('instructed')!.duplicate_of, undefined);
    assert.equal(byId(written).get('other-model')!.duplicate_of, undefined);
  });

  it('two sets of workers on their own connections: still one call per request key', async () => {
    fake.reset();
    // 4 distinct questions, 6 items each, interleaved; each call takes 300 ms, so twins overlap.
    const rows: Array<[string, string]> = Array.from({ length: 24 }, (_, i) => [`w${i}`, `[[latency:300]] Question ${i % 4}?`]);
    const file = await csv('workers', rows);
    // A second client, as another machine would be: its own Redis connections and workers.
    const other = await openRespool({ redis: REDIS_URL, prefix, apiKey: KEY, cwd: dir });
    try {
      const collected = rp.collect('workers', { out: out('workers') });
      const workers = await Promise.all([rp, other].map((r) => r.work({ name: 'workers', concurrency: 8 })));
      const enq = await rp.enqueue({ name: 'workers', inputs: file, prompt: '{{text}}', model: 'm', base_url: fake.url, out: out('workers') });
      assert.equal(enq.added, 24);
      const result = await collected;
      await Promise.all(workers.map((w) => w.stop()));
      const delivered = workers.map((w) => w.delivered);
      assert.equal(result.outcome, 'complete');
      assert.equal(result.failedLines, 0);
      assert.ok(delivered.every((n) => n > 0), `both workers took items: ${delivered.join(', ')}`);
      assert.equal(delivered[0]! + delivered[1]!, 24);
      const lines = await readLines(out('workers'));
      assertEachIdOnce(lines, rows.map(([id]) => id));
      assert.equal(fake.stats().requests, 4, `one call per distinct question, by ${JSON.stringify(fake.stats().byKey)}`);
      for (let q = 0; q < 4; q++) assertShared(lines, rows.filter((_, i) => i % 4 === q).map(([id]) => id));
    } finally {
      await other.close();
    }
  });

  it('a refused request is shared as it is; a server error is not: each twin makes its own call', async () => {
    fake.reset();
    const file = await csv('fails', [
      ['bad1', '[[status:400]] refused'],
      ['bad2', '[[status:400]] refused'],
      ['down1', '[[status:500]] broken'],
      ['down2', '[[status:500]] broken'],
    ]);
    const { result, lines } = await run('fails', { inputs: file, prompt: '{{text}}', model: 'm', attempts: 1 });
    assert.equal(result.outcome, 'complete');
    assert.equal(result.failedLines, 4);
    assertEachIdOnce(lines, ['bad1', 'bad2', 'down1', 'down2']);
    assert.ok(lines.every((l) => l.status === 'failed'));
    const shared = assertShared(lines, ['bad1', 'bad2']);
    assert.equal(shared.error?.type, 'invalid_request');
    for (const id of ['down1', 'down2']) {
      assert.equal(byId(lines).get(id)!.duplicate_of, undefined, id);
      assert.equal(byId(lines).get(id)!.error?.type, 'server_error', id);
    }
    assert.equal(fake.stats().byStatus['400'], 1);
    assert.equal(fake.stats().byStatus['500'], 2);
  });

  it('retry and re-run: a retried answer is asked for once more, an answered one is never paid again', async () => {
    fake.reset();
    const file = await csv('again', [['i1', '[[incomplete]] Cut short'], ['i2', '[[incomplete]] Cut short']]);
    const job = { inputs: file, prompt: '{{text}}', model: 'm' };
    const first = await run('again', job);
    assertComplete(first.result, first.lines);
    assertShared(first.lines, ['i1', 'i2']);
    assert.equal(fake.stats().requests, 1);

    // A new row with the same request, added to the input: a re-run copies the answer, no call.
    await writeFile(file, 'id,text\ni1,"[[incomplete]] Cut short"\ni2,"[[incomplete]] Cut short"\ni3,"[[incomplete]] Cut short"\n');
    const rerun = await run('again', job);
    assertComplete(rerun.result, rerun.lines);
    assert.equal(fake.stats().requests, 1, 'no call for a request the run has answered');
    assert.ok(byId(rerun.lines).get('i3')!.duplicate_of);

    // retry of the incomplete lines: the three items ask again, with one call between them.
    assert.equal((await rp.retry('again', { statuses: ['incomplete'] })).requeued, 3);
    const resumed = await run('again', job);
    assertComplete(resumed.result, resumed.lines);
    assert.equal(fake.stats().requests, 2, 'one new call for the three retried items');
    assertEachIdOnce(resumed.lines, ['i1', 'i2', 'i3']);
    assertShared(resumed.lines, ['i1', 'i2', 'i3']);

    // The claims and answers are part of the run: clean (the command line's own) forgets them with it.
    const dump = await dumpPrefix(prefix);
    assert.ok([...dump.keys()].some((k) => k.endsWith(':run:again:dedupe')));
    assert.ok([...dump.keys()].every((k) => !k.includes('Cut short')), 'no request text in a key');
    assert.ok([...dump.values()].every((v) => !v.includes(KEY)), 'no API key in Redis');
    const clean = await runCli(['--prefix', prefix, 'clean', '--name', 'again']);
    assert.equal(clean.code, 0, clean.stderr);
    assert.deepEqual([...(await dumpPrefix(prefix)).keys()].filter((k) => k.includes(':run:again:')), []);
  });
});

/** What only the command line does: its flag, and a process killed mid-call. */
describe('identical requests share one call (command line)', () => {
  let fake: FakeServer;
  const prefix = testPrefix();
  let dir: string;

  withFakeServer(prefix, (s) => ({ fake, dir } = s));

  const out = (name: string) => path.join(dir, `${name}.jsonl`);

  it('--no-dedupe: every item calls', async () => {
    fake.reset();
    const file = await writeCsv(dir, 'off-flag', [['o1', 'Same words.'], ['o2', 'Same words.']]);
    const flagged = await runCli(['--prefix', prefix, 'run', '--name', 'off-flag', '--base-url', fake.url, '--out', out('off-flag'), '--input', file, '--prompt', '{{text}}', '--model', 'm', '--no-dedupe'], { env: { OPENRESPONSES_API_KEY: KEY } });
    assert.equal(flagged.code, 0, flagged.stderr);
    assert.equal(fake.stats().requests, 2);
    assert.ok((await readLines(out('off-flag'))).every((l) => l.duplicate_of === undefined && l.attempts === 1));
  });

  it('the caller\'s process killed mid-call: its job comes back and still holds the key; the twins never call', async () => {
    fake.reset();
    const file = await writeCsv(dir, 'crash', [['c1', '[[latency:3000]] Slow question'], ['c2', '[[latency:3000]] Slow question'], ['c3', '[[latency:3000]] Slow question']]);
    // Short locks, so that the killed process's job comes back within seconds.
    const env = { OPENRESPONSES_API_KEY: KEY, RESPOOL_LOCK_DURATION_MS: '2000', RESPOOL_STALLED_INTERVAL_MS: '1000' };
    const args = ['--prefix', prefix, 'run', '--name', 'crash', '--input', file, '--prompt', '{{text}}', '--model', 'm', '--base-url', fake.url, '--out', out('crash')];
    const first = spawnCli(args, { env });
    const firstDone = finished(first);
    await waitFor(() => fake.stats().requests >= 1, 60_000, 'the call in flight');
    first.kill('SIGKILL');
    assert.equal((await firstDone).signal, 'SIGKILL');

    const second = await runCli(args, { env });
    assert.equal(second.code, 0, second.stderr);
    const lines = await readLines(out('crash'));
    assertEachIdOnce(lines, ['c1', 'c2', 'c3']);
    const caller = assertShared(lines, ['c1', 'c2', 'c3']);
    assert.equal(caller.status, 'completed');
    // The call cut short was made again by the same item (same Idempotency-Key); no twin called.
    assert.deepEqual(Object.values(fake.stats().byKey), [2]);
  });
});
