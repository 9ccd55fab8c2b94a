import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ConfigError, openRespool, type OutputLine, type RunProgress } from '../../src/index.js';
import type { FakeServer } from '../../src/fake-server/index.js';
import { readLines, REDIS_URL, ROOT, testPrefix } from '../helpers/cli.js';
import { withFakeServer } from '../helpers/fake-suite.js';
import { recordingLogger } from '../helpers/logger.js';

const run = promisify(execFile);

describe('library: openRespool in process, real Redis, the fake server over HTTP', () => {
  let fake: FakeServer;
  let dir: string;
  const prefix = testPrefix();
  const key = 'sk-library-test-key-0123456789';
  withFakeServer(prefix, (s) => ({ fake, dir } = s), { apiKey: key });

  async function csv(name: string, rows: string[]): Promise<string> {
    await writeFile(path.join(dir, name), ['id,text', ...rows.map((r, i) => `r${i + 1},${r}`)].join('\n') + '\n');
    return name;
  }

  it('run(): labels a CSV, hands each line to onLine, reports progress, resolves with the outcome and totals', async () => {
    const { log: logger, messages } = recordingLogger();
    const rp = await openRespool({ redis: REDIS_URL, prefix, apiKey: key, cwd: dir, logger });
    try {
      const input = await csv('reviews.csv', ['great', 'awful', 'fine']);
      const lines: OutputLine[] = [];
      const progress: RunProgress[] = [];
      const handle = rp.run(
        { name: 'lib-run', inputs: input, prompt: 'Label: {{text}}', model: 'test-model', base_url: fake.url, out: 'out/labels.jsonl' },
        { onLine: (l) => lines.push(l), onProgress: (p) => progress.push(p) },
      );
      assert.equal(handle.name, 'lib-run');
      const result = await handle.promise;
      assert.equal(result.outcome, 'complete');
      assert.equal(result.totals.lines, 3);
      assert.equal(result.totals.byStatus.completed, 3);
      assert.equal(result.failedLines, 0);
      // Relative paths of the job resolve against cwd.
      assert.equal(result.out, path.join(dir, 'out', 'labels.jsonl'));
      assert.deepEqual(lines.map((l) => l.custom_id).sort(), ['r1', 'r2', 'r3']);
      assert.deepEqual((await readLines(result.out)).map((l) => l.custom_id).sort(), ['r1', 'r2', 'r3']);
      assert.ok(lines.every((l) => l.status === 'completed' && typeof l.output_text === 'string' && l.output_text.includes('Label:')));
      const last = progress.at(-1);
      assert.equal(last?.written, 3);
      assert.equal(last?.total, 3);
      assert.equal(last?.totalExact, true);
      // The key was sent (the fake server requires it) and appears in no message.
      assert.ok(messages.length > 0);
      assert.ok(messages.every((m) => !m.includes(key)), 'the API key reached a log message');

      // Running the same job again resumes: nothing is sent twice.
      const again = await rp.run({ name: 'lib-run', inputs: input, prompt: 'Label: {{text}}', model: 'test-model', base_url: fake.url, out: 'out/labels.jsonl' }).promise;
      assert.equal(again.outcome, 'complete');
      assert.equal(again.totals.lines, 0);
      assert.equal(again.enqueued.alreadyDone, 3);
    } finally {
      await rp.close();
    }
  });

  it('status(): one run by name, every run without one, null for a name no run has', async () => {
    const rp = await openRespool({ redis: REDIS_URL, prefix, apiKey: key, cwd: dir });
    try {
      const input = await csv('status.csv', ['one', 'two']);
      await rp.run({ name: 'lib-status', inputs: input, prompt: '{{text}}', model: 'test-model', base_url: fake.url }).promise;
      const report = await rp.status('lib-status');
      assert.equal(report?.state, 'complete');
      assert.equal(report?.items, 2);
      assert.equal(report?.written, 2);
      // The budget the workers used, named for people by model and host, never by the key.
      assert.deepEqual(report?.budgets.map((b) => b.label), [`test-model @ ${new URL(fake.url).host}`]);
      assert.ok((await rp.status()).some((r) => r.run === 'lib-status'));
      assert.equal(await rp.status('lib-no-such-run'), null);
    } finally {
      await rp.close();
    }
  });

  it('clean(): forgets the run in Redis; the results file stays and the next run sends nothing again', async () => {
    const rp = await openRespool({ redis: REDIS_URL, prefix, apiKey: key, cwd: dir });
    try {
      const input = await csv('clean.csv', ['one', 'two', 'three']);
      const job = { name: 'lib-clean', inputs: input, prompt: '{{text}}', model: 'test-model', base_url: fake.url };
      await rp.run(job).promise;
      const calls = fake.stats().requests;
      assert.equal(await rp.clean('lib-clean'), true);
      assert.equal(await rp.status('lib-clean'), null);
      assert.equal(await rp.clean('lib-clean'), false, 'a run no longer known');
      const again = await rp.run(job).promise;
      assert.equal(again.outcome, 'complete');
      assert.equal(again.enqueued.alreadyDone, 3);
      assert.equal(fake.stats().requests, calls, 'nothing sent again');
      assert.equal((await readLines(again.out)).length, 3);
    } finally {
      await rp.close();
    }
  });

  it('cancel(): the items not sent end as cancelled failed lines, one line per item, outcome cancelled', async () => {
    const rp = await openRespool({ redis: REDIS_URL, prefix, apiKey: key, cwd: dir });
    try {
      fake.setOptions({ latencyMs: 200 });
      const input = await csv('cancel.csv', Array.from({ length: 30 }, (_, i) => `item ${i}`));
      let cancelling: Promise<void> | null = null;
      const lines: OutputLine[] = [];
      const handle = rp.run(
        { name: 'lib-cancel', inputs: input, prompt: '{{text}}', model: 'test-model', base_url: fake.url, concurrency: 2 },
        {
          onLine: (l) => {
            lines.push(l);
            cancelling ??= handle.cancel();
          },
        },
      );
      const result = await handle.promise;
      await cancelling;
      assert.equal(result.outcome, 'cancelled');
      const written = await readLines(result.out);
      assert.equal(written.length, 30);
      assert.equal(new Set(written.map((l) => l.custom_id)).size, 30);
      const cancelled = written.filter((l) => l.error?.type === 'cancelled');
      assert.ok(cancelled.length > 0, 'no item was cancelled');
      assert.ok(cancelled.every((l) => l.status === 'failed'));
      assert.equal(result.failedLines, cancelled.length);
      assert.equal((await rp.status('lib-cancel'))?.state, 'cancelled');
    } finally {
      fake.setOptions({ latencyMs: 0 });
      await rp.close();
    }
  });

  it('retry(): queues a failed item again; the next run writes its new line in place of the old one', async () => {
    const rp = await openRespool({ redis: REDIS_URL, prefix, apiKey: key, cwd: dir });
    try {
      const file = path.join(dir, 'retry.jsonl');
      await writeFile(file, [JSON.stringify({ custom_id: 'ok', prompt: 'fine' }), JSON.stringify({ custom_id: 'bad', prompt: 'x [[status:400]]' })].join('\n') + '\n');
      const job = { name: 'lib-retry', inputs: 'retry.jsonl', model: 'test-model', base_url: fake.url };
      const first = await rp.run(job).promise;
      assert.equal(first.failedLines, 1);
      assert.equal((await rp.retry('lib-retry')).requeued, 1);
      const second = await rp.run(job).promise;
      assert.equal(second.outcome, 'complete');
      const lines = await readLines(second.out);
      assert.deepEqual(lines.map((l) => l.custom_id).sort(), ['bad', 'ok']);
    } finally {
      await rp.close();
    }
  });

  it('enqueue(), work() and collect() do a run in three parts; report() and estimate() read files only', async () => {
    const rp = await openRespool({ redis: REDIS_URL, prefix, apiKey: key, cwd: dir });
    try {
      const input = await csv('parts.csv', ['alpha', 'beta', 'gamma', 'delta']);
      const job = { name: 'lib-parts', inputs: input, prompt: '{{text}}', model: 'test-model', base_url: fake.url, out: 'parts.jsonl' };
      const estimate = await rp.estimate(job);
      assert.equal(estimate.items, 4);
      assert.equal(estimate.models[0]?.model, 'test-model');
      const callsBefore = fake.stats().requests;
      const enqueued = await rp.enqueue(job);
      assert.equal(enqueued.name, 'lib-parts');
      assert.equal(enqueued.added, 4);
      assert.equal((await rp.status('lib-parts'))?.queued, 4);
      assert.equal(fake.stats().requests, callsBefore, 'estimate or enqueue called the API');
      const work = await rp.work({ name: 'lib-parts', concurrency: 2 });
      const ids: string[] = [];
      const collected = await rp.collect('lib-parts', { onLine: (l) => ids.push(l.custom_id) });
      assert.equal(await work.stop(), true);
      assert.equal(collected.outcome, 'complete');
      assert.deepEqual(ids.sort(), ['r1', 'r2', 'r3', 'r4']);
      assert.equal(work.delivered, 4);
      const report = JSON.parse(await rp.report(['parts.jsonl'])) as { lines: number; files: string[] };
      assert.equal(report.lines, 4);
      assert.deepEqual(report.files, ['parts.jsonl']);
    } finally {
      await rp.close();
    }
  });

  it('an incremental job runs as its dated run; the next date sends only what is new', async () => {
    const rp = await openRespool({ redis: REDIS_URL, prefix, apiKey: key, cwd: dir });
    try {
      const input = await csv('nightly.csv', ['one', 'two', 'three']);
      const job = { name: 'lib-nightly', inputs: input, prompt: '{{text}}', model: 'test-model', base_url: fake.url, incremental: true, out: 'nightly-{date}.jsonl' };
      const first = rp.run(job, { date: '2026-01-01' });
      assert.equal(first.name, 'lib-nightly-2026-01-01');
      const day1 = await first.promise;
      assert.equal(day1.outcome, 'complete');
      assert.equal(day1.out, path.join(dir, 'nightly-2026-01-01.jsonl'));
      assert.equal(day1.totals.lines, 3);
      await csv('nightly.csv', ['one', 'two', 'three', 'four']);
      const lines: OutputLine[] = [];
      const day2 = await rp.run(job, { date: '2026-01-02', onLine: (l) => lines.push(l) }).promise;
      assert.equal(day2.outcome, 'complete');
      assert.deepEqual(lines.map((l) => l.custom_id), ['r4']);
      assert.throws(() => rp.run(job, { date: '2 January' }), ConfigError);
    } finally {
      await rp.close();
    }
  });

  it('an invalid job throws a ConfigError naming each bad field, before anything is queued', async () => {
    const rp = await openRespool({ redis: REDIS_URL, prefix, cwd: dir });
    try {
      assert.throws(
        () => rp.run({ name: 'lib-bad', inputs: 'x.csv', model: 'test-model', concurrency: 0, detail: 'huge' as 'low' }),
        (err: unknown) => err instanceof ConfigError && /concurrency/.test(err.message) && /detail/.test(err.message),
      );
      // A missing input is a bad setting too, reported through the promise.
      await assert.rejects(rp.run({ name: 'lib-missing', inputs: 'nowhere.csv', model: 'test-model', prompt: '{{text}}' }).promise, (err: unknown) => err instanceof ConfigError && /nowhere\.csv/.test(err.message));
      assert.equal(await rp.status('lib-missing'), null);
    } finally {
      await rp.close();
    }
  });

  it('an API key that cannot go in an HTTP header is refused by openRespool, without printing it', async () => {
    await assert.rejects(openRespool({ redis: REDIS_URL, prefix, apiKey: 'sk-one\nsk-two' }), (err: unknown) => err instanceof ConfigError && /apiKey/.test(err.message) && !err.message.includes('sk-one'));
  });

  it('close() leaves nothing open: a script that runs a job and closes exits by itself', async () => {
    await csv('exit.csv', ['a', 'b']);
    const script = `
      import { openRespool } from ${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))};
      const rp = await openRespool({ redis: ${JSON.stringify(REDIS_URL)}, prefix: ${JSON.stringify(prefix)}, apiKey: ${JSON.stringify(key)}, cwd: ${JSON.stringify(dir)} });
      const result = await rp.run({ name: 'lib-exit', inputs: 'exit.csv', prompt: '{{text}}', model: 'test-model', base_url: ${JSON.stringify(fake.url)} }).promise;
      await rp.close();
      console.log(result.outcome, result.totals.lines);
    `;
    // A handle left open (a connection, a timer) would keep the process alive past the timeout.
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { timeout: 120_000, cwd: dir });
    assert.equal(stdout.trim(), 'complete 2');
  });
});
