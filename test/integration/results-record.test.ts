import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeEach, describe, it } from 'node:test';
import type { FakeServer } from '../../src/fake-server/index.js';
import { numberedIds, writePrompts } from '../helpers/prompts.js';
import { assertEachIdOnce, readLines, runCli, testPrefix } from '../helpers/cli.js';
import { withFakeServer } from '../helpers/fake-suite.js';
import { deletePrefix } from '../helpers/redis-scan.js';

/**
 * The results file is the record: a run whose Redis does not know its lines (after `clean`, in a
 * fresh Redis or another prefix, from another folder) pays for none of them again and appends none;
 * `--fresh` starts over. Real CLI, Redis and fake server.
 */
describe('the results file is the record', { timeout: 120_000 }, () => {
  let fake: FakeServer;
  let dir: string;
  const prefix = testPrefix();
  const other = testPrefix();
  withFakeServer(prefix, (s) => ({ fake, dir } = s));
  beforeEach(() => fake.reset());

  const ids = numberedIds('rec-', 8);
  async function input(name: string): Promise<string> {
    const file = path.join(dir, `${name}.in.jsonl`);
    await writePrompts(file, ids.map((id) => [id, `about ${id}`]));
    return file;
  }
  const run = (p: string, name: string, inputFile: string, out: string, extra: string[] = [], cwd?: string) =>
    runCli(['--prefix', p, 'run', '--name', name, '--input', inputFile, '--model', 'm', '--base-url', fake.url, '--out', out, ...extra], { killAfterMs: 60_000, ...(cwd ? { cwd } : {}) });
  const calls = () => fake.stats().requests;

  it('clean, then the same run again: no call, no new line, and the log says what was found in the file', async () => {
    const inFile = await input('clean');
    const out = path.join(dir, 'clean.out.jsonl');
    const first = await run(prefix, 'rec-clean', inFile, out);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(calls(), 8);
    const before = await readFile(out, 'utf8');
    const cleaned = await runCli(['--prefix', prefix, 'clean', '--name', 'rec-clean']);
    assert.equal(cleaned.code, 0, cleaned.stderr);
    fake.reset();
    const again = await run(prefix, 'rec-clean', inFile, out);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(calls(), 0, 'no item was paid again');
    assert.equal(await readFile(out, 'utf8'), before, 'no line was added');
    assert.match(again.stderr, /8 lines in .*8 of this run, 8 of them not known to Redis/);
    assert.match(again.stderr, /8 already in /);
  });

  it('the results file in another Redis (another prefix), run from another folder: no call', async () => {
    const inFile = await input('moved');
    const out = path.join(dir, 'moved.out.jsonl');
    const first = await run(prefix, 'rec-moved', inFile, out);
    assert.equal(first.code, 0, first.stderr);
    // The project folder (input and results) copied elsewhere, run against a Redis that never saw it.
    const elsewhere = path.join(dir, 'elsewhere');
    await mkdir(path.join(elsewhere, 'data'), { recursive: true });
    await copyFile(inFile, path.join(elsewhere, 'data', 'moved.in.jsonl'));
    await copyFile(out, path.join(elsewhere, 'moved.out.jsonl'));
    fake.reset();
    try {
      const again = await run(other, 'rec-moved', 'data/moved.in.jsonl', 'moved.out.jsonl', [], elsewhere);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(calls(), 0, 'no item was paid again');
      assertEachIdOnce(await readLines(path.join(elsewhere, 'moved.out.jsonl')), ids);
    } finally {
      await deletePrefix(other);
    }
  });

  it('--fresh moves the results file aside, names it, and sends every item again', async () => {
    const inFile = await input('fresh');
    const out = path.join(dir, 'fresh.out.jsonl');
    assert.equal((await run(prefix, 'rec-fresh', inFile, out)).code, 0);
    fake.reset();
    const again = await run(prefix, 'rec-fresh', inFile, out, ['--fresh']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(calls(), 8, 'every item was sent again');
    assertEachIdOnce(await readLines(out), ids);
    const bak = (await readdir(dir)).filter((f) => f.startsWith('fresh.out.jsonl.') && f.endsWith('.bak'));
    assert.equal(bak.length, 1, `one copy set aside: ${bak.join(', ')}`);
    assert.match(again.stderr, new RegExp(`the earlier results file is now .*${bak[0]!.replace(/\./g, '\\.')}`));
    assertEachIdOnce(await readLines(path.join(dir, bak[0]!)), ids);
  });

  it('enqueue --fresh: the collector moves the file aside; workers send every item again', async () => {
    const inFile = await input('efresh');
    const out = path.join(dir, 'efresh.out.jsonl');
    assert.equal((await run(prefix, 'rec-efresh', inFile, out)).code, 0);
    fake.reset();
    const args = ['enqueue', '--name', 'rec-efresh', '--input', inFile, '--model', 'm', '--base-url', fake.url, '--out', out];
    const enq = await runCli(['--prefix', prefix, ...args, '--fresh']);
    assert.equal(enq.code, 0, enq.stderr);
    assert.match(enq.stderr, /8 queued/);
    const again = await run(prefix, 'rec-efresh', inFile, out);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(calls(), 8);
    assertEachIdOnce(await readLines(out), ids);
    assert.equal((await readdir(dir)).filter((f) => f.startsWith('efresh.out.jsonl.') && f.endsWith('.bak')).length, 1);
  });

  it('enqueue where the results file is, after clean: nothing is queued', async () => {
    const inFile = await input('enq');
    const out = path.join(dir, 'enq.out.jsonl');
    assert.equal((await run(prefix, 'rec-enq', inFile, out)).code, 0);
    assert.equal((await runCli(['--prefix', prefix, 'clean', '--name', 'rec-enq'])).code, 0);
    const enq = await runCli(['--prefix', prefix, 'enqueue', '--name', 'rec-enq', '--input', inFile, '--model', 'm', '--base-url', fake.url, '--out', out]);
    assert.equal(enq.code, 0, enq.stderr);
    assert.match(enq.stderr, /0 queued, 0 rejected, 8 already written/);
    const collected = await runCli(['--prefix', prefix, 'collect', '--name', 'rec-enq'], { killAfterMs: 30_000 });
    assert.equal(collected.code, 0, collected.stderr);
    assertEachIdOnce(await readLines(out), ids);
  });

  it('an openai-batch results file is read back too (its lines name no source)', async () => {
    const inFile = await input('batch');
    const out = path.join(dir, 'batch.out.jsonl');
    assert.equal((await run(prefix, 'rec-batch', inFile, out, ['--output-format', 'openai-batch'])).code, 0);
    assert.equal((await runCli(['--prefix', prefix, 'clean', '--name', 'rec-batch'])).code, 0);
    const before = await readFile(out, 'utf8');
    fake.reset();
    const again = await run(prefix, 'rec-batch', inFile, out, ['--output-format', 'openai-batch']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(calls(), 0);
    assert.equal(await readFile(out, 'utf8'), before);
  });

  it('an item with two lines in the file (a retry whose rewrite never happened): read back once, the older line dropped', async () => {
    const inFile = await input('twice');
    const out = path.join(dir, 'twice.out.jsonl');
    assert.equal((await run(prefix, 'rec-twice', inFile, out)).code, 0);
    const lines = (await readFile(out, 'utf8')).split('\n').filter(Boolean);
    // rec-3's older line is a failed one; the newer line (last in the file) is the one kept.
    const older = JSON.stringify({ ...JSON.parse(lines[3]!), status: 'failed', output_text: null, error: { type: 'server_error', message: 'HTTP 500', status: 500 } });
    await writeFile(out, [older, ...lines].join('\n') + '\n');
    assert.equal((await runCli(['--prefix', prefix, 'clean', '--name', 'rec-twice'])).code, 0);
    fake.reset();
    const again = await run(prefix, 'rec-twice', inFile, out);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(calls(), 0);
    const after = await readLines(out);
    assertEachIdOnce(after, ids);
    assert.ok(after.every((l) => l.status === 'completed'), 'the last line of each item is the one kept');
  });
});
