import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFakeServer, type FakeServer } from '../../src/fake-server/index.js';
import { ROOT, finished, runCli, spawnCli, tempDir, testPrefix, waitFor } from '../helpers/cli.js';
import { chromiumMissing, launchChromium } from '../helpers/headless-chromium.js';
import { deletePrefix } from '../helpers/redis-scan.js';

/**
 * `respool dashboard` in Debian's Chromium, headless: every run's queue is shown, runs enqueued later
 * appear, and the page is served on 127.0.0.1 only. RESPOOL_SCREENSHOT=<file> also saves the
 * screenshot there (docs/images/dashboard.png is made that way).
 */
describe('respool dashboard (bull-board) in headless Chromium', async () => {
  const skip = await chromiumMissing();
  const prefix = testPrefix();
  let dir: string;
  let dashboard: ChildProcess;
  let worker: ChildProcess;
  let fake: FakeServer;
  let url: string;

  const enqueue = async (name: string, n: number) => {
    const input = path.join(dir, `${name}.jsonl`);
    await writeFile(input, Array.from({ length: n }, (_, i) => JSON.stringify({ custom_id: `${name}-${i}`, prompt: `Label review ${i}` })).join('\n') + '\n');
    const res = await runCli(['--prefix', prefix, 'enqueue', '--name', name, '--input', input, '--model', 'o4-mini', '--base-url', fake.url, '--out', path.join(dir, `${name}.out.jsonl`)]);
    assert.equal(res.code, 0, res.stderr);
  };

  before(async () => {
    if (skip) return;
    dir = await tempDir();
    // Slow answers, so that the board shows calls in flight next to waiting items.
    fake = await startFakeServer({ latencyMs: 30_000 });
    await enqueue('label-reviews', 40);
    await enqueue('caption-images', 12);
    dashboard = spawnCli(['--prefix', prefix, 'dashboard', '--port', '0']);
    let stdout = '';
    dashboard.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    await waitFor(() => /http:\/\/\S+\n/.test(stdout), 20_000, 'the dashboard address');
    url = stdout.trim().split('\n')[0]!;
    worker = spawnCli(['--prefix', prefix, 'worker', '--name', 'label-reviews', '--concurrency', '4']);
  });
  after(async () => {
    if (skip) return;
    worker.kill('SIGKILL');
    await finished(worker, 10_000);
    await fake.close();
    dashboard.kill('SIGTERM');
    const res = await finished(dashboard, 10_000);
    assert.equal(res.code, 0, res.stderr);
    await deletePrefix(prefix);
  });

  it('shows every run\'s queue with its counts, and runs enqueued later; screenshot saved', { skip: skip ?? false }, async () => {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/, 'served on 127.0.0.1 only');
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(url);
      // The overview's cards, with the job counts read from Redis.
      await page.getByText('40 Jobs', { exact: true }).waitFor({ timeout: 20_000 });
      await page.getByText('12 Jobs', { exact: true }).waitFor({ timeout: 20_000 });
      for (const run of ['label-reviews', 'caption-images']) assert.ok((await page.getByText(run, { exact: true }).count()) >= 1, run);

      await enqueue('answer-questions', 7);
      await waitFor(
        async () => {
          await page.reload();
          return (await page.getByText('answer-questions', { exact: true }).count()) > 0;
        },
        20_000,
        'the run enqueued after the dashboard started',
      );
      // The queue page of a run lists its waiting jobs.
      await page.getByText('label-reviews', { exact: true }).first().click();
      await page.waitForURL(/queue\/label-reviews/, { timeout: 10_000 });
      await page.goto(url);
      await page.getByText('7 Jobs', { exact: true }).waitFor({ timeout: 20_000 });
      await page.waitForLoadState('networkidle');

      const shot = path.join(dir, 'dashboard.png');
      await page.screenshot({ path: shot, fullPage: false });
      const png = await readFile(shot);
      assert.equal(png.subarray(1, 4).toString(), 'PNG');
      assert.ok(png.length > 10_000, `screenshot is ${png.length} bytes`);
      if (process.env.RESPOOL_SCREENSHOT) await copyFile(shot, path.resolve(ROOT, process.env.RESPOOL_SCREENSHOT));
    } finally {
      await browser.close();
    }
  });

  it('is read-only and answers only on loopback', { skip: skip ?? false }, async () => {
    const res = await fetch(`${url}api/queues`);
    const json = (await res.json()) as { queues: Array<{ name: string; readOnlyMode: boolean; counts: Record<string, number> }> };
    const byName = new Map(json.queues.map((q) => [q.name, q]));
    const reviews = byName.get('label-reviews')!.counts;
    assert.equal((reviews.waiting ?? 0) + (reviews.active ?? 0), 40);
    assert.equal(reviews.active, 4, 'the worker has four calls in flight');
    assert.ok(json.queues.every((q) => q.readOnlyMode));
    // A clean removes the run's queue from the board too.
    assert.equal((await runCli(['--prefix', prefix, 'clean', '--name', 'caption-images'])).code, 0);
    await waitFor(
      async () => !((await (await fetch(`${url}api/queues`)).json()) as { queues: Array<{ name: string }> }).queues.some((q) => q.name === 'caption-images'),
      10_000,
      'the cleaned run to leave the board',
    );
  });
});
