import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, describe, it } from 'node:test';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { FakeServer } from '../../src/fake-server/index.js';
import type { Job, Respool } from '../../src/index.js';
import { jobIdFor } from '../../src/queue/keys.js';
import { readSpend } from '../../src/queue/cost-cap.js';
import { countIds, readLines, REDIS_URL, runCli, testPrefix } from '../helpers/cli.js';
import { withFakeServer } from '../helpers/fake-suite.js';
import { runJob, withLibrary } from '../helpers/library.js';

async function promptsFile(dir: string, name: string, ids: string[]): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, ids.map((id) => JSON.stringify({ custom_id: id, prompt: `question ${id}` })).join('\n') + '\n');
  return file;
}

/** Each item was billed once over online and batch answers together (the fake server counts both by job id). */
function assertBilledOnce(fake: FakeServer, run: string, ids: string[]): void {
  const billed = fake.stats().billed;
  for (const id of ids) assert.equal(billed[jobIdFor(run, id)], 1, `${id} billed ${billed[jobIdFor(run, id)] ?? 0} times`);
}

describe('respool run --mode batch', () => {
  let fake: FakeServer;
  let dir: string;
  let rp: Respool;
  let messages: string[];
  const prefix = testPrefix();
  withLibrary(prefix, (s) => ({ fake, dir, rp, messages } = s));
  const redis = new Redis(REDIS_URL);
  after(() => redis.quit());

  const job = (name: string, input: string, extra: Partial<Job> = {}): Job => ({
    name, inputs: input, model: 'gpt-4o-mini', base_url: fake.url, out: `${name}.jsonl`, mode: 'batch', batch_poll_ms: 50, ...extra,
  });
  const run = (name: string, input: string, extra: Partial<Job> = {}) => runJob(rp, job(name, input, extra));
  /** What the library logged about one run. */
  const said = (name: string) => messages.filter((m) => m.includes(`run ${name}`)).join('\n');

  it('sends every item through provider batches and writes one line per item, tier batch', async () => {
    const ids = Array.from({ length: 25 }, (_, i) => `b${i}`);
    const input = await promptsFile(dir, 'in-batch.jsonl', ids);
    fake.reset();
    const { result, lines, written } = await run('batch-e2e', input, { batch_max_requests: 10 });
    assert.equal(result.outcome, 'complete');
    assert.equal(result.failedLines, 0);
    assert.equal(result.totals.byStatus.completed, 25);
    assert.equal(written.length, 25);
    assert.deepEqual([...countIds(lines).keys()].sort(), [...ids].sort());
    assert.ok([...countIds(lines).values()].every((n) => n === 1));
    for (const l of lines) {
      assert.equal(l.status, 'completed', JSON.stringify(l));
      assert.equal(l.service_tier, 'batch');
      assert.ok(l.output_text, 'the answer is on the line');
      assert.ok(l.cost, 'the line is priced');
    }
    const stats = fake.stats();
    assert.equal(stats.requests, 0, 'no online call');
    assert.equal(stats.batch.batchesCreated, 3, '25 items in files of at most 10');
    for (const id of ids) assert.equal(stats.batch.submitted[jobIdFor('batch-e2e', id)], 1, `${id} submitted once`);
    assertBilledOnce(fake, 'batch-e2e', ids);
  });

  it('a batch that expires half-done: the rest goes into a new batch, each item billed once', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `e${i}`);
    const input = await promptsFile(dir, 'in-expire.jsonl', ids);
    fake.reset();
    fake.setOptions({ batch: { expireAfter: 0.5 } });
    const running = run('batch-expire', input);
    // Only the first batch expires: a batch takes the options in force when it is created.
    while (fake.stats().batch.batchesCreated === 0) await sleep(20);
    fake.setOptions({ batch: {} });
    const { result, lines } = await running;
    fake.setOptions({ batch: {} });
    assert.equal(result.outcome, 'complete');
    assert.equal(result.failedLines, 0);
    const counts = countIds(lines);
    assert.equal(counts.size, ids.length);
    assert.ok([...counts.values()].every((n) => n === 1));
    assert.ok(lines.every((l) => l.status === 'completed'), JSON.stringify(lines.filter((l) => l.status !== 'completed')));
    const stats = fake.stats();
    assert.ok(stats.batch.batchesCreated >= 2, `the expired batch's rest went into another batch (${stats.batch.batchesCreated} created)`);
    assert.ok((stats.batch.byStatus.expired ?? 0) >= 1, JSON.stringify(stats.batch.byStatus));
    assertBilledOnce(fake, 'batch-expire', ids);
  });

  it('an API without batches stops the run (no_batch_api) with a reason naming the modes to use; mode online then finishes it', async () => {
    const ids = Array.from({ length: 8 }, (_, i) => `n${i}`);
    const input = await promptsFile(dir, 'in-nobatch.jsonl', ids);
    fake.reset();
    fake.setOptions({ batch: { absent: true } });
    const stopped = await run('no-batch', input);
    assert.equal(stopped.result.outcome, 'stopped');
    assert.equal(stopped.result.stopKind, 'no_batch_api');
    assert.match(stopped.result.stopReason ?? '', /no Batch API/);
    assert.match(stopped.result.stopReason ?? '', /--mode online/);
    assert.equal(stopped.written.length, 0, 'no line for a stopped run');
    fake.setOptions({ batch: {} });
    const { result, lines } = await run('no-batch', input, { mode: 'online' });
    assert.equal(result.outcome, 'complete');
    assert.equal(result.failedLines, 0);
    assert.deepEqual([...countIds(lines).keys()].sort(), [...ids].sort());
    assert.ok([...countIds(lines).values()].every((n) => n === 1));
    assert.ok(lines.every((l) => l.status === 'completed' && l.service_tier === 'default'));
    assertBilledOnce(fake, 'no-batch', ids);
  });

  it('auto with a deadline too short for the batch: switches to online calls, cancels the batch and finishes in time', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `a${i}`);
    const input = await promptsFile(dir, 'in-auto.jsonl', ids);
    fake.reset();
    // A batch that would take 20 x 100 s: only a switch can make the deadline.
    fake.setOptions({ batch: { msPerRequest: 100_000 } });
    // 30 s: the run starts with a batch, and switches about halfway (see src/batch/deadline-plan.ts).
    const deadlineAt = Date.now() + 30_000;
    const { result, lines } = await run('auto-deadline', input, { mode: 'auto', deadline: new Date(deadlineAt).toISOString(), batch_poll_ms: 200, concurrency: 4 });
    fake.setOptions({ batch: {} });
    assert.equal(result.outcome, 'complete');
    assert.equal(result.failedLines, 0);
    const log = said('auto-deadline');
    assert.match(log, /switching from batch to (flex|the standard tier) to meet the deadline/);
    assert.match(log, /cancelled provider batch/);
    assert.deepEqual([...countIds(lines).keys()].sort(), [...ids].sort());
    assert.ok([...countIds(lines).values()].every((n) => n === 1));
    assert.ok(lines.every((l) => l.status === 'completed' && l.service_tier !== 'batch'), 'every item answered online');
    assert.ok(lines.every((l) => Date.parse(l.finished_at) <= deadlineAt), 'every line before the deadline');
    // A switch to flex sends flex calls (the fake server answers them as flex).
    if (/switching from batch to flex/.test(log)) assert.ok(lines.some((l) => l.service_tier === 'flex'), `flex lines after the switch to flex: ${log.split('\n').filter((l) => /switch/.test(l)).join(' / ')} tiers ${lines.map((l) => l.service_tier).join(',')}`);
    const stats = fake.stats();
    assert.equal(stats.batch.batchesCreated, 1, 'the run started with a batch');
    assertBilledOnce(fake, 'auto-deadline', ids);
    // status says where auto moved, and why (the same words as the log's switch line).
    const report = await rp.status('auto-deadline');
    assert.equal(report?.mode.configured, 'auto');
    assert.ok(report?.mode.now === 'flex' || report?.mode.now === 'online', String(report?.mode.now));
    assert.ok(report?.mode.reason && log.includes(`(${report.mode.reason})`), `${report?.mode.reason} / ${log}`);
  });

  it('cancel: the provider batch is cancelled, what it finished is kept, the rest ends as cancelled lines', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `c${i}`);
    const input = await promptsFile(dir, 'in-cancel.jsonl', ids);
    fake.reset();
    // 20 requests of 500 ms: cancelled while in flight, with some done.
    fake.setOptions({ batch: { msPerRequest: 500 } });
    const running = run('batch-cancel', input);
    while ((fake.stats().batch.byStatus.in_progress ?? 0) === 0) await sleep(20);
    while ((fake.stats().billed && Object.keys(fake.stats().billed).length) < 2) await sleep(20);
    // status shows the live provider batch of the run.
    const live = await rp.status('batch-cancel');
    assert.deepEqual(live?.mode, { configured: 'batch', now: null, reason: null });
    assert.equal(live?.batches.length, 1);
    assert.match(live!.batches[0]!.batch_id ?? '', /^batch_/);
    assert.equal(live!.batches[0]!.items, 20);
    assert.ok(live!.batches[0]!.submitted_at !== null && Date.parse(live!.batches[0]!.submitted_at) <= Date.now());
    assert.equal(live!.batches[0]!.cancel_requested, false);
    await rp.cancel('batch-cancel', { waitMs: 1000 });
    const { result, lines } = await running;
    fake.setOptions({ batch: {} });
    assert.equal(result.outcome, 'cancelled');
    assert.match(said('batch-cancel'), /cancelled provider batch/);
    assert.deepEqual([...countIds(lines).keys()].sort(), [...ids].sort());
    assert.ok([...countIds(lines).values()].every((n) => n === 1));
    const done = lines.filter((l) => l.status === 'completed');
    const cancelled = lines.filter((l) => l.error?.type === 'cancelled');
    assert.ok(done.length > 0 && done.every((l) => l.service_tier === 'batch'), `the batch's finished answers are kept (${done.length})`);
    assert.ok(cancelled.length > 0, 'the rest ends as cancelled');
    assert.equal(done.length + cancelled.length, ids.length);
    assert.equal(result.failedLines, cancelled.length, 'a cancelled run has failed lines');
    assert.equal(result.unsuccessful.byStatus.failed, cancelled.length);
    const stats = fake.stats();
    assert.equal(stats.requests, 0, 'no online call after the cancel');
    for (const l of done) assert.equal(stats.billed[jobIdFor('batch-cancel', l.custom_id)], 1);
  });

  it('cancel with no worker running: the provider batch is cancelled from here; the next worker keeps what it finished and ends the rest', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `u${i}`);
    const input = await promptsFile(dir, 'in-undriven.jsonl', ids);
    fake.reset();
    // 20 requests of 500 ms: the batch is still at work when the only worker stops.
    fake.setOptions({ batch: { msPerRequest: 500 } });
    try {
      await rp.enqueue(job('batch-undriven', input));
      const worker = await rp.work({ name: 'batch-undriven' });
      while ((fake.stats().batch.byStatus.in_progress ?? 0) === 0) await sleep(20);
      while (Object.keys(fake.stats().billed).length < 2) await sleep(20);
      await worker.stop();
      messages.length = 0;
      const cancelled = await rp.cancel('batch-undriven', { waitMs: 1000 });
      assert.equal(cancelled.batchesCancelled.length, 1, 'no worker drives the batch: cancel stops it itself');
      assert.match(cancelled.batchesCancelled[0]!, /^batch_/);
      assert.match(said('batch-undriven'), /cancelled provider batch batch_\S+ \(no worker of the run is running\)/);
      assert.equal(fake.stats().batch.byStatus.in_progress ?? 0, 0, 'the provider is no longer working the batch');
      const status = await rp.status('batch-undriven');
      assert.equal(status?.batches[0]?.cancel_requested, true);

      // The next worker collects what the batch finished; the rest ends as cancelled lines.
      const again = await rp.work({ name: 'batch-undriven' });
      const collected = await rp.collect('batch-undriven').finally(() => again.stop());
      assert.equal(collected.outcome, 'complete');
      const lines = await readLines(collected.out);
      assert.deepEqual([...countIds(lines).keys()].sort(), [...ids].sort());
      assert.ok([...countIds(lines).values()].every((n) => n === 1));
      const done = lines.filter((l) => l.status === 'completed');
      const ended = lines.filter((l) => l.error?.type === 'cancelled');
      assert.ok(done.length >= 2 && done.every((l) => l.service_tier === 'batch'), `the batch's finished answers are kept (${done.length})`);
      assert.equal(done.length + ended.length, ids.length);
      const stats = fake.stats();
      assert.equal(stats.requests, 0, 'no online call');
      assert.equal(stats.batch.batchesCreated, 1);
      for (const l of done) assert.equal(stats.billed[jobIdFor('batch-undriven', l.custom_id)], 1);
    } finally {
      fake.setOptions({ batch: {} });
    }
  });

  it('cancel while a worker drives the batch leaves the cancelling to it', async () => {
    const ids = Array.from({ length: 6 }, (_, i) => `d${i}`);
    const input = await promptsFile(dir, 'in-driven.jsonl', ids);
    fake.reset();
    fake.setOptions({ batch: { msPerRequest: 500 } });
    try {
      const running = run('batch-driven', input);
      while ((fake.stats().batch.byStatus.in_progress ?? 0) === 0) await sleep(20);
      const cancelled = await rp.cancel('batch-driven', { waitMs: 1000 });
      assert.deepEqual(cancelled.batchesCancelled, [], 'the running worker holds the batch lease');
      const { result } = await running;
      assert.equal(result.outcome, 'cancelled');
      assert.match(said('batch-driven'), /cancelled provider batch .*what it finished is kept, the rest goes online/);
    } finally {
      fake.setOptions({ batch: {} });
    }
  });

  it('max_cost: a batch reserves its cost before it is submitted and settles on return; past the cap, items are skipped', async () => {
    const ids = Array.from({ length: 6 }, (_, i) => `m${i}`);
    const input = await promptsFile(dir, 'in-cost.jsonl', ids);
    fake.reset();
    const fits = await run('batch-cost', input, { max_cost: 5 });
    assert.equal(fits.result.outcome, 'complete');
    assert.equal(fits.result.costCapReached, false);
    assert.equal(fits.result.failedLines, 0);
    assert.ok(fits.result.costUsd !== null && fits.result.costUsd > 0, `cost ${fits.result.costUsd}`);
    const spend = await readSpend(redis, 'batch-cost', prefix);
    assert.ok(spend.spentNanos > 0, 'the answered lines are counted');
    assert.equal(spend.reservedNanos, 0, 'the reservation was settled');

    const over = await run('batch-capped', input, { max_cost: 0.0000001 });
    assert.equal(over.result.costCapReached, true);
    assert.equal(over.lines.length, ids.length);
    assert.ok(over.lines.every((l) => l.status === 'skipped' && l.error?.type === 'max_cost'), JSON.stringify(over.lines[0]));
    assert.equal(fake.stats().batch.batchesCreated, 1, 'only the first run submitted a batch');
  });
});

/** The command line turns a stopped or capped batch run into its exit codes. */
describe('respool run --mode batch (command line)', () => {
  let fake: FakeServer;
  let dir: string;
  const prefix = testPrefix();
  withFakeServer(prefix, (s) => ({ fake, dir } = s));
  const run = (name: string, input: string, extra: string[] = []) =>
    runCli([
      '--prefix', prefix, 'run', '--name', name, '--input', input, '--model', 'gpt-4o-mini', '--base-url', fake.url,
      '--out', path.join(dir, `${name}.jsonl`), '--mode', 'batch', '--batch-poll-ms', '50', ...extra,
    ], { env: { OPENRESPONSES_API_KEY: 'sk-test-batch' } });

  it('an API without batches: exit code 8 and a message naming --mode online', async () => {
    const input = await promptsFile(dir, 'in-nobatch.jsonl', ['n0', 'n1']);
    fake.setOptions({ batch: { absent: true } });
    const res = await run('no-batch', input);
    fake.setOptions({ batch: {} });
    assert.equal(res.code, 8, res.stderr);
    assert.match(res.stderr, /no Batch API/);
    assert.match(res.stderr, /--mode online/);
  });

  it('past --max-cost: exit code 4', async () => {
    const input = await promptsFile(dir, 'in-cost.jsonl', ['m0', 'm1']);
    const res = await run('batch-capped', input, ['--max-cost', '0.0000001']);
    assert.equal(res.code, 4, res.stderr);
  });
});
