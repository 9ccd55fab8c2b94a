import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeEach, describe, it } from 'node:test';
import type { FakeServer } from '../../src/fake-server/index.js';
import { openRespool, type Job, type Respool } from '../../src/index.js';
import { numberedIds, writePrompts } from '../helpers/prompts.js';
import { assertEachIdOnce, readLines, REDIS_URL, testPrefix } from '../helpers/cli.js';
import { runJob, withLibrary } from '../helpers/library.js';
import { deletePrefix } from '../helpers/redis-scan.js';

/**
 * The results file is the record: a run whose Redis does not know its lines (after `clean`, in a
 * fresh Redis or another prefix, from another folder) pays for none of them again and appends none;
 * `fresh` starts over. In process through the library, real Redis and the fake server.
 */
describe('the results file is the record', { timeout: 120_000 }, () => {
  let fake: FakeServer;
  let dir: string;
  let rp: Respool;
  let messages: string[];
  let apiKey: string;
  const prefix = testPrefix();
  const other = testPrefix();
  withLibrary(prefix, (s) => ({ fake, dir, rp, messages, apiKey } = s));
  beforeEach(() => {
    fake.reset();
    messages.length = 0;
  });

  const ids = numberedIds('rec-', 8);
  async function input(name: string): Promise<string> {
    const file = path.join(dir, `${name}.in.jsonl`);
    await writePrompts(file, ids.map((id) => [id, `about ${id}`]));
    return file;
  }
  const job = (name: string, inputs: string, out: string, extra: Partial<Job> = {}): Job => ({ name, inputs, model: 'm', base_url: fake.url, out, ...extra });
  /** Runs the job to its end; it must complete with no failed line (the command line's exit code 0). */
  async function run(j: Job, on: Respool = rp, fresh = false) {
    const done = await runJob(on, j, { fresh });
    assert.equal(done.result.outcome, 'complete');
    assert.equal(done.result.failedLines, 0);
    return done;
  }
  const clean = async (name: string) => assert.equal(await rp.clean(name), true, `no run named ${name} to clean`);
  const calls = () => fake.stats().requests;

  it('clean, then the same run again: no call, no new line, and the log says what was found in the file', async () => {
    const j = job('rec-clean', await input('clean'), path.join(dir, 'clean.out.jsonl'));
    const first = await run(j);
    assert.equal(first.result.totals.lines, 8);
    assert.equal(calls(), 8);
    const before = await readFile(first.result.out, 'utf8');
    await clean('rec-clean');
    fake.reset();
    messages.length = 0;
    const again = await run(j);
    assert.equal(calls(), 0, 'no item was paid again');
    assert.equal(await readFile(again.result.out, 'utf8'), before, 'no line was added');
    assert.equal(again.result.totals.lines, 0);
    assert.deepEqual(again.written, []);
    assert.equal(again.result.enqueued.alreadyDone, 8);
    assert.ok(
      messages.some((m) => /8 lines in .*8 of this run, 8 of them not known to Redis/.test(m)),
      messages.join('\n'),
    );
    assert.ok(
      messages.some((m) => /8 already in /.test(m)),
      messages.join('\n'),
    );
  });

  it('the results file in another Redis (another prefix), run from another folder: no call', async () => {
    const inFile = await input('moved');
    const out = path.join(dir, 'moved.out.jsonl');
    await run(job('rec-moved', inFile, out));
    // The project folder (input and results) copied elsewhere, run against a Redis that never saw it.
    const elsewhere = path.join(dir, 'elsewhere');
    await mkdir(path.join(elsewhere, 'data'), { recursive: true });
    await copyFile(inFile, path.join(elsewhere, 'data', 'moved.in.jsonl'));
    await copyFile(out, path.join(elsewhere, 'moved.out.jsonl'));
    fake.reset();
    const moved = await openRespool({ redis: REDIS_URL, prefix: other, apiKey, cwd: elsewhere });
    try {
      const again = await run(job('rec-moved', 'data/moved.in.jsonl', 'moved.out.jsonl'), moved);
      assert.equal(again.result.out, path.join(elsewhere, 'moved.out.jsonl'));
      assert.equal(calls(), 0, 'no item was paid again');
      assert.equal(again.result.enqueued.alreadyDone, 8);
      assertEachIdOnce(again.lines, ids);
    } finally {
      await moved.close();
      await deletePrefix(other);
    }
  });

  it('fresh moves the results file aside, names it, and sends every item again', async () => {
    const j = job('rec-fresh', await input('fresh'), path.join(dir, 'fresh.out.jsonl'));
    await run(j);
    fake.reset();
    messages.length = 0;
    const again = await run(j, rp, true);
    assert.equal(calls(), 8, 'every item was sent again');
    assert.equal(again.result.totals.lines, 8);
    assertEachIdOnce(again.lines, ids);
    const bak = (await readdir(dir)).filter((f) => f.startsWith('fresh.out.jsonl.') && f.endsWith('.bak'));
    assert.equal(bak.length, 1, `one copy set aside: ${bak.join(', ')}`);
    const setAside = new RegExp(`the earlier results file is now .*${bak[0]!.replace(/\./g, '\\.')}`);
    assert.ok(
      messages.some((m) => setAside.test(m)),
      messages.join('\n'),
    );
    assertEachIdOnce(await readLines(path.join(dir, bak[0]!)), ids);
  });

  it('enqueue with fresh: the collector moves the file aside; workers send every item again', async () => {
    const j = job('rec-efresh', await input('efresh'), path.join(dir, 'efresh.out.jsonl'));
    await run(j);
    fake.reset();
    const enq = await rp.enqueue(j, { fresh: true });
    assert.equal(enq.name, 'rec-efresh');
    assert.equal(enq.added, 8);
    const again = await run(j);
    assert.equal(calls(), 8);
    assertEachIdOnce(again.lines, ids);
    assert.equal((await readdir(dir)).filter((f) => f.startsWith('efresh.out.jsonl.') && f.endsWith('.bak')).length, 1);
  });

  it('enqueue where the results file is, after clean: nothing is queued', async () => {
    const j = job('rec-enq', await input('enq'), path.join(dir, 'enq.out.jsonl'));
    await run(j);
    await clean('rec-enq');
    fake.reset();
    const enq = await rp.enqueue(j);
    assert.deepEqual({ added: enq.added, rejected: enq.rejected, alreadyDone: enq.alreadyDone }, { added: 0, rejected: 0, alreadyDone: 8 });
    const collected = await rp.collect('rec-enq');
    assert.equal(collected.outcome, 'complete');
    assert.equal(collected.failedLines, 0);
    assert.equal(collected.totals.lines, 0);
    assert.equal(calls(), 0);
    assertEachIdOnce(await readLines(collected.out), ids);
  });

  it('an openai-batch results file is read back too (its lines name no source)', async () => {
    const j = job('rec-batch', await input('batch'), path.join(dir, 'batch.out.jsonl'), { output_format: 'openai-batch' });
    const first = await run(j);
    await clean('rec-batch');
    const before = await readFile(first.result.out, 'utf8');
    fake.reset();
    const again = await run(j);
    assert.equal(calls(), 0);
    assert.equal(again.result.enqueued.alreadyDone, 8);
    assert.equal(await readFile(again.result.out, 'utf8'), before);
  });

  it('an item with two lines in the file (a retry whose rewrite never happened): read back once, the older line dropped', async () => {
    const j = job('rec-twice', await input('twice'), path.join(dir, 'twice.out.jsonl'));
    const first = await run(j);
    const out = first.result.out;
    const lines = (await readFile(out, 'utf8')).split('\n').filter(Boolean);
    // rec-3's older line is a failed one; the newer line (last in the file) is the one kept.
    const older = JSON.stringify({ ...JSON.parse(lines[3]!), status: 'failed', output_text: null, error: { type: 'server_error', message: 'HTTP 500', status: 500 } });
    await writeFile(out, [older, ...lines].join('\n') + '\n');
    await clean('rec-twice');
    fake.reset();
    const again = await run(j);
    assert.equal(calls(), 0);
    assertEachIdOnce(again.lines, ids);
    assert.ok(again.lines.every((l) => l.status === 'completed'), 'the last line of each item is the one kept');
  });
});
