import assert from 'node:assert/strict';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { OutputLine } from '../../src/core/output-line.js';
import type { FakeServer } from '../../src/fake-server/index.js';
import { assertEachIdOnce, finished, readLines, runCli, spawnCli, testPrefix, waitFor } from '../helpers/cli.js';
import { withFakeServer } from '../helpers/fake-suite.js';
import { deliveredBy } from '../helpers/procs.js';
import { dumpPrefix } from '../helpers/redis-scan.js';

const KEY = 'sk-dedupe-test';

/** Identical requests of a run: one call, one paid answer, a line per item. Real CLI, Redis and fake server. */
describe('respool run: identical requests share one call', () => {
  let fake: FakeServer;
  const prefix = testPrefix();
  let dir: string;

  withFakeServer(prefix, (s) => ({ fake, dir } = s));

  const out = (name: string) => path.join(dir, `${name}.jsonl`);
  const run = (name: string, args: string[]) =>
    runCli(['--prefix', prefix, 'run', '--name', name, '--base-url', fake.url, '--out', out(name), ...args], { env: { OPENRESPONSES_API_KEY: KEY } });

  async function csv(name: string, rows: Array<[string, string]>): Promise<string> {
    const file = path.join(dir, `${name}.csv`);
    await writeFile(file, ['id,text', ...rows.map(([id, text]) => `${id},"${text}"`)].join('\n') + '\n');
    return file;
  }

  const byId = (lines: OutputLine[]) => new Map(lines.map((l) => [l.custom_id, l]));

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

  it('the same image twice in a folder (a copy under another name): one call, two lines, one duplicate_of', async () => {
    fake.reset();
    const images = path.join(dir, 'imgs');
    await mkdir(images, { recursive: true });
    await copyFile('test/fixtures/images/ok.png', path.join(images, 'a.png'));
    await copyFile('test/fixtures/images/ok.png', path.join(images, 'b-copy.png'));
    await copyFile('test/fixtures/images/nested/deeper/photo.JPG', path.join(images, 'other.jpg'));
    const res = await run('imgs', ['--input', images, '--model', 'gpt-4o-mini', '--detail', 'low']);
    assert.equal(res.code, 0, res.stderr);
    const lines = await readLines(out('imgs'));
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
    const res = await run('rows', ['--input', file, '--prompt', '{{text}}', '--model', 'gpt-4o-mini']);
    assert.equal(res.code, 0, res.stderr);
    const lines = await readLines(out('rows'));
    assertEachIdOnce(lines, ['r1', 'r2', 'r3', 'r4']);
    assert.equal(fake.stats().requests, 2);
    const caller = assertShared(lines, ['r1', 'r2', 'r3']);
    const r4 = byId(lines).get('r4')!;

    const report = await runCli(['report', out('rows'), '-f', 'json']);
    assert.equal(report.code, 0, report.stderr);
    const total = (JSON.parse(report.stdout) as { total: { lines: number; tokens: { input: number; output: number }; cost_nanos: number } }).total;
    assert.equal(total.lines, 4);
    assert.equal(total.tokens.input, caller.usage!.input_tokens + r4.usage!.input_tokens, 'the twins\' tokens are not counted again');
    assert.equal(total.tokens.output, caller.usage!.output_tokens + r4.usage!.output_tokens);
    assert.equal(total.cost_nanos, Math.round(caller.cost!.total * 1e9) + Math.round(r4.cost!.total * 1e9));
    // The end-of-run summary agrees: two API calls.
    assert.match(res.stderr, /API calls: 2\b/);
  });

  it('dedupe: false in the job file, or --no-dedupe: every item calls', async () => {
    fake.reset();
    const file = await csv('off', [['o1', 'Same words.'], ['o2', 'Same words.']]);
    const job = path.join(dir, 'off.yaml');
    await writeFile(job, `inputs: [${JSON.stringify(file)}]\nprompt: "{{text}}"\nmodel: m\ndedupe: false\n`);
    const res = await runCli(['--prefix', prefix, 'run', job, '--base-url', fake.url, '--out', out('off')]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(fake.stats().requests, 2);
    assert.ok((await readLines(out('off'))).every((l) => l.duplicate_of === undefined && l.attempts === 1));

    fake.reset();
    const flagged = await run('off-flag', ['--input', file, '--prompt', '{{text}}', '--model', 'm', '--no-dedupe']);
    assert.equal(flagged.code, 0, flagged.stderr);
    assert.equal(fake.stats().requests, 2);
  });

  it('requests that differ in a setting (instructions, model) are called each; the order of keys does not matter', async () => {
    fake.reset();
    const file = path.join(dir, 'bodies-input.jsonl');
    const input = [{ type: 'message', role: 'user', content: 'Name a colour.' }];
    const lines = [
      { custom_id: 'plain', method: 'POST', url: '/v1/responses', body: { model: 'm', input } },
      { custom_id: 'reordered', method: 'POST', url: '/v1/responses', body: { input, model: 'm' } },
      { custom_id: 'instructed', method: 'POST', url: '/v1/responses', body: { model: 'm', input, instructions: 'Answer in French.' } },
      { custom_id: 'other-model', method: 'POST', url: '/v1/responses', body: { model: 'm2', input } },
    ];
    await writeFile(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const res = await run('bodies', ['--input', file, '--model', 'm']);
    assert.equal(res.code, 0, res.stderr);
    const written = await readLines(out('bodies'));
    assertEachIdOnce(written, ['plain', 'reordered', 'instructed', 'other-model']);
    assert.equal(fake.stats().requests, 3);
    assertShared(written, ['plain', 'reordered']);
    assert.equal(byId(written).get('instructed')!.duplicate_of, undefined);
    assert.equal(byId(written).get('other-model')!.duplicate_of, undefined);
  });

  it('two worker processes: still one call per request key', async () => {
    fake.reset();
    // 4 distinct questions, 6 items each, interleaved; each call takes 300 ms, so twins overlap.
    const rows: Array<[string, string]> = Array.from({ length: 24 }, (_, i) => [`w${i}`, `[[latency:300]] Question ${i % 4}?`]);
    const file = await csv('workers', rows);
    const common = ['--prefix', prefix];
    const env = { OPENRESPONSES_API_KEY: KEY };
    const collector = finished(spawnCli([...common, 'collect', '--name', 'workers', '--out', out('workers')], { env }));
    const workers = [0, 1].map(() => spawnCli([...common, 'worker', '--name', 'workers', '--concurrency', '8'], { env }));
    const workersDone = workers.map((w) => finished(w));
    const enq = await runCli([...common, 'enqueue', '--name', 'workers', '--input', file, '--prompt', '{{text}}', '--model', 'm', '--base-url', fake.url, '--out', out('workers')], { env });
    assert.equal(enq.code, 0, enq.stderr);
    const collected = await collector;
    for (const w of workers) w.kill('SIGTERM');
    const delivered = (await Promise.all(workersDone)).map(deliveredBy);
    assert.equal(collected.code, 0, collected.stderr);
    assert.ok(delivered.every((n) => n > 0), `both workers took items: ${delivered.join(', ')}`);
    const lines = await readLines(out('workers'));
    assertEachIdOnce(lines, rows.map(([id]) => id));
    assert.equal(fake.stats().requests, 4, `one call per distinct question, by ${JSON.stringify(fake.stats().byKey)}`);
    for (let q = 0; q < 4; q++) assertShared(lines, rows.filter((_, i) => i % 4 === q).map(([id]) => id));
  });

  it('the caller\'s process killed mid-call: its job comes back and still holds the key; the twins never call', async () => {
    fake.reset();
    const file = await csv('crash', [['c1', '[[latency:3000]] Slow question'], ['c2', '[[latency:3000]] Slow question'], ['c3', '[[latency:3000]] Slow question']]);
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

  it('a refused request is shared as it is; a server error is not: each twin makes its own call', async () => {
    fake.reset();
    const file = await csv('fails', [
      ['bad1', '[[status:400]] refused'],
      ['bad2', '[[status:400]] refused'],
      ['down1', '[[status:500]] broken'],
      ['down2', '[[status:500]] broken'],
    ]);
    const res = await run('fails', ['--input', file, '--prompt', '{{text}}', '--model', 'm', '--attempts', '1']);
    assert.ok(res.code === 0 || res.code === 5, res.stderr);
    const lines = await readLines(out('fails'));
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
    const first = await run('again', ['--input', file, '--prompt', '{{text}}', '--model', 'm']);
    assert.equal(first.code === 0 || first.code === 5, true, first.stderr);
    assertShared(await readLines(out('again')), ['i1', 'i2']);
    assert.equal(fake.stats().requests, 1);

    // A new row with the same request, added to the input: a re-run copies the answer, no call.
    await writeFile(file, 'id,text\ni1,"[[incomplete]] Cut short"\ni2,"[[incomplete]] Cut short"\ni3,"[[incomplete]] Cut short"\n');
    const rerun = await run('again', ['--input', file, '--prompt', '{{text}}', '--model', 'm']);
    assert.equal(rerun.code === 0 || rerun.code === 5, true, rerun.stderr);
    assert.equal(fake.stats().requests, 1, 'no call for a request the run has answered');
    assert.ok(byId(await readLines(out('again'))).get('i3')!.duplicate_of);

    // retry --status incomplete: the three items ask again, with one call between them.
    const retry = await runCli(['--prefix', prefix, 'retry', '--name', 'again', '--status', 'incomplete']);
    assert.equal(retry.code, 0, retry.stderr);
    const resumed = await run('again', ['--input', file, '--prompt', '{{text}}', '--model', 'm']);
    assert.equal(resumed.code === 0 || resumed.code === 5, true, resumed.stderr);
    assert.equal(fake.stats().requests, 2, 'one new call for the three retried items');
    const after = await readLines(out('again'));
    assertEachIdOnce(after, ['i1', 'i2', 'i3']);
    assertShared(after, ['i1', 'i2', 'i3']);

    // The claims and answers are part of the run: clean forgets them with it.
    const dump = await dumpPrefix(prefix);
    assert.ok([...dump.keys()].some((k) => k.endsWith(':run:again:dedupe')));
    assert.ok([...dump.keys()].every((k) => !k.includes('Cut short')), 'no request text in a key');
    assert.ok([...dump.values()].every((v) => !v.includes(KEY)), 'no API key in Redis');
    const clean = await runCli(['--prefix', prefix, 'clean', '--name', 'again']);
    assert.equal(clean.code, 0, clean.stderr);
    assert.deepEqual([...(await dumpPrefix(prefix)).keys()].filter((k) => k.includes(':run:again:')), []);
  });
});
