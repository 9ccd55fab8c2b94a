import assert from 'node:assert/strict';
import { access, mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { FakeServer } from '../../src/fake-server/index.js';
import { ConfigError, type Job, type Respool } from '../../src/index.js';
import type { RunSummary } from '../../src/report/dated-run-summary.js';
import { dateIn } from '../../src/schedule/dates.js';
import { readLines, runCli, testPrefix, waitFor } from '../helpers/cli.js';
import { withFakeServer } from '../helpers/fake-suite.js';
import { withLibrary } from '../helpers/library.js';
import { writePhoto } from '../helpers/photos.js';
import { dumpPrefix } from '../helpers/redis-scan.js';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook.js';

/**
 * Dated incremental runs and schedules, in process through the library (`rp.run(job, { date })`,
 * `rp.work({ schedules: true })`), real Redis and the fake server. Making, listing, removing and
 * resetting schedules are commands of the command line only: those are spawned.
 */
describe('nightly captioning', () => {
  let fake: FakeServer;
  let rp: Respool;
  let messages: string[];
  let hook: WebhookSink;
  const prefix = testPrefix();
  let dir: string;

  withLibrary(prefix, (s) => ({ fake, dir, rp, messages } = s));
  before(async () => {
    hook = await startWebhookSink();
  });
  after(async () => {
    await hook.close();
  });
  beforeEach(() => {
    messages.length = 0;
  });

  /** Calls the fake server got since its last reset: what was paid for. */
  const promptsSent = () => fake.stats().requests;
  const logged = (re: RegExp) => messages.some((m) => re.test(m));

  it('incremental runs: unchanged images are skipped, a renamed one is not paid twice, a changed one and failures are sent again', async () => {
    const photos = path.join(dir, 'inc');
    await mkdir(photos);
    await writePhoto(path.join(photos, 'a.jpg'), { width: 900, height: 600, seed: 1 });
    await writePhoto(path.join(photos, 'b.jpg'), { width: 900, height: 600, seed: 2 });
    await writePhoto(path.join(photos, 'c.png'), { width: 300, height: 200, seed: 3, format: 'png' });
    // The fake server answers 400 to a prompt holding this token: the item's line is `failed`.
    await writePhoto(path.join(photos, 'bad[[status:400]].jpg'), { width: 300, height: 200, seed: 4 });
    const job: Job = {
      name: 'cap',
      inputs: ['inc'],
      model: 'test-model',
      base_url: fake.url,
      image_prompt: 'Caption {{name}}',
      detail: 'low',
      resize: 'auto',
      incremental: true,
      on_complete: hook.url,
      out: 'out/cap-{date}.jsonl',
    };
    const run = async (date: string) => {
      fake.reset();
      messages.length = 0;
      const handle = rp.run(job, { date });
      assert.equal(handle.name, `cap-${date}`);
      const result = await handle.promise;
      // Every day has the failed item: complete with one failed line (the command line's exit code 5).
      assert.equal(result.outcome, 'complete');
      assert.equal(result.name, `cap-${date}`);
      assert.equal(result.failedLines, 1);
      assert.equal(result.unsuccessful.byStatus.failed, 1);
      assert.equal(result.out, path.join(dir, 'out', `cap-${date}.jsonl`));
      return { result, lines: await readLines(result.out) };
    };
    const ids = (lines: { custom_id: string; status: string }[]) => lines.map((l) => `${l.custom_id} ${l.status}`).sort();

    const day1 = await run('2026-01-01');
    assert.deepEqual(ids(day1.lines), ['a.jpg completed', 'b.jpg completed', 'bad[[status:400]].jpg failed', 'c.png completed']);
    assert.ok(day1.lines.every((l) => l.run === 'cap-2026-01-01'));
    assert.ok(
      logged(/summary of cap-2026-01-01 \(complete\): 4 items, 1 failures .*0 unchanged skipped/),
      messages.join('\n'),
    );
    const summary1 = hook.bodies.at(-1) as RunSummary;
    assert.equal(hook.bodies.length, 1);
    assert.deepEqual(
      { job: summary1.job, run: summary1.run, date: summary1.date, outcome: summary1.outcome, items: summary1.items, failures: summary1.failures, failed: summary1.failed, skipped: summary1.skipped_unchanged, cost: summary1.cost },
      { job: 'cap', run: 'cap-2026-01-01', date: '2026-01-01', outcome: 'complete', items: 4, failures: 1, failed: 1, skipped: 0, cost: null },
    );
    assert.equal(summary1.out, path.join(dir, 'out', 'cap-2026-01-01.jsonl'));

    // Nothing changed: only the failed item is sent again.
    const day2 = await run('2026-01-02');
    assert.deepEqual(ids(day2.lines), ['bad[[status:400]].jpg failed']);
    assert.equal(promptsSent(), 1);
    assert.equal(hook.bodies.length, 2);
    assert.equal((hook.bodies.at(-1) as RunSummary).skipped_unchanged, 3);

    // A renamed photo keeps its content; an edited one is new content; a new one is new.
    await rename(path.join(photos, 'a.jpg'), path.join(photos, 'a-renamed.jpg'));
    await writePhoto(path.join(photos, 'b.jpg'), { width: 900, height: 600, seed: 22 });
    await writePhoto(path.join(photos, 'd.jpg'), { width: 900, height: 600, seed: 5 });
    const day3 = await run('2026-01-03');
    assert.deepEqual(ids(day3.lines), ['b.jpg completed', 'bad[[status:400]].jpg failed', 'd.jpg completed']);
    assert.equal(promptsSent(), 3);

    // The state lives in Redis under the job's name: content hashes, never paths or image bytes.
    const keys = await dumpPrefix(prefix);
    const state = [...keys.entries()].find(([k]) => k === `${prefix}:incremental:cap:done`);
    assert.ok(state, [...keys.keys()].join(', '));
    const hashes = JSON.parse(state[1]) as string[];
    assert.equal(hashes.length, 5, 'a, b (old), b (new), c, d; never the failed one');
    assert.ok(hashes.every((h) => /^[0-9a-f]{64}$/.test(h)));

    // resetIncremental (--reset-state) forgets it: the next run pays for every image again.
    assert.equal(await rp.resetIncremental('cap'), true);
    assert.equal(await rp.resetIncremental('cap'), false, 'nothing left to forget');
    const day4 = await run('2026-01-04');
    assert.deepEqual(ids(day4.lines), ['a-renamed.jpg completed', 'b.jpg completed', 'bad[[status:400]].jpg failed', 'c.png completed', 'd.jpg completed']);
    assert.equal(promptsSent(), 5);
  });

  it('a schedule fires a dated run in the workers, which write the file and POST the summary; it is listed, then removed', async () => {
    const photos = path.join(dir, 'sched');
    await mkdir(photos);
    await writePhoto(path.join(photos, 'one.jpg'), { width: 1600, height: 1200, seed: 9 });
    await writePhoto(path.join(photos, 'two.jpg'), { width: 800, height: 600, seed: 10, orientation: 8 });
    const job: Job = { name: 'nightly', inputs: ['sched'], model: 'test-model', base_url: fake.url, detail: 'low', resize: 'auto', incremental: true, on_complete: hook.url, out: 'out/nightly-{date}.jsonl' };
    hook.bodies.length = 0;
    fake.reset();
    const startedAt = Date.now();
    // Every second instead of a cron pattern, so the test does not wait for 02:00.
    const scheduled = await rp.schedule(job, { everyMs: 1000, tz: 'Europe/Berlin' });
    assert.equal(scheduled.name, 'nightly');
    assert.ok(scheduled.next !== null && Date.parse(scheduled.next) > startedAt - 1000, String(scheduled.next));
    const listed = await rp.schedules();
    assert.deepEqual(listed.map((s) => [s.name, s.pattern, s.every, s.tz, s.out]), [['nightly', null, 1000, 'Europe/Berlin', path.join(dir, 'out', 'nightly-{date}.jsonl')]]);

    const worker = await rp.work({ schedules: true, concurrency: 4 });
    let removed;
    try {
      await waitFor(() => hook.bodies.length > 0, 45_000, 'the on_complete POST');
    } finally {
      removed = await rp.unschedule('nightly');
      assert.equal(await worker.stop(), true, 'every call in flight finished');
    }
    assert.equal(removed, true);
    const first = hook.bodies[0] as RunSummary;
    const dates = [dateIn(startedAt, 'Europe/Berlin'), dateIn(Date.now(), 'Europe/Berlin')];
    assert.ok(dates.includes(first.date), `${first.date} is not today in Berlin (${dates.join(', ')})`);
    assert.equal(first.run, `nightly-${first.date}`);
    assert.equal(first.items, 2);
    assert.equal(first.failures, 0);
    const file = path.join(dir, 'out', `nightly-${first.date}.jsonl`);
    await access(file);
    const lines = await readLines(file);
    assert.deepEqual(lines.map((l) => `${l.custom_id} ${l.status}`).sort(), ['one.jpg completed', 'two.jpg completed']);
    // Firings after the first find nothing new: the two photos were paid once.
    assert.equal(fake.stats().requests, 2);
    assert.deepEqual(fake.stats().images.map((i) => `${i.width}x${i.height}`).sort(), ['384x512', '512x384']);
    assert.ok(logged(/schedule nightly fired/), messages.join('\n'));
    assert.ok(logged(/summary of nightly-\d{4}-\d{2}-\d{2} \(complete\): 2 items, 0 failures/), messages.join('\n'));

    assert.deepEqual(await rp.schedules(), []);
    assert.equal(await rp.unschedule('nightly'), false, 'no schedule of that name any more');
  });

  it('schedule() refuses a bad time zone, a missing or double firing rule, a bad cron pattern and a name too long, naming the option', async () => {
    const job: Job = { name: 'refused', inputs: ['sched'], model: 'm', incremental: true, out: 'out/refused-{date}.jsonl' };
    const refused = (re: RegExp) => (err: Error) => err instanceof ConfigError && re.test(err.message);
    await assert.rejects(rp.schedule(job, { cron: '0 2 * * *', tz: 'Mars/Olympus' }), refused(/^tz: unknown time zone "Mars\/Olympus"/));
    await assert.rejects(rp.schedule(job, {}), refused(/either cron \(a pattern\) or everyMs/));
    await assert.rejects(rp.schedule(job, { cron: '0 2 * * *', everyMs: 1000 }), refused(/either cron \(a pattern\) or everyMs/));
    await assert.rejects(rp.schedule(job, { everyMs: 0 }), refused(/^everyMs: expected a whole number/));
    await assert.rejects(rp.schedule(job, { cron: 'not a cron' }), refused(/^cron: /));
    // A job that is not incremental may have a longer name than its dated runs can: a schedule cannot.
    await assert.rejects(rp.schedule({ ...job, incremental: false, name: 'n'.repeat(60) }, { everyMs: 1000 }), refused(/^name: at most \d+ characters for a schedule/));
    assert.deepEqual((await rp.schedules()).map((s) => s.name), [], 'nothing was stored');
  });
});

/** What only the command line does with incremental jobs: its exit codes and what it prints. */
describe('nightly captioning (command line)', () => {
  let fake: FakeServer;
  const prefix = testPrefix();
  let dir: string;
  withFakeServer(prefix, (s) => ({ fake, dir } = s));

  it('an incremental run with a failed line exits 5, naming the retry command of its dated run', async () => {
    await mkdir(path.join(dir, 'one'));
    await writePhoto(path.join(dir, 'one', 'fine.jpg'), { width: 300, height: 200, seed: 6 });
    // The fake server answers 400 to a prompt holding this token: the item's line is `failed`.
    await writePhoto(path.join(dir, 'one', 'bad[[status:400]].jpg'), { width: 300, height: 200, seed: 7 });
    const job = path.join(dir, 'one.yaml');
    await writeFile(
      job,
      ['name: once', 'inputs: [one]', 'model: test-model', `base_url: ${fake.url}`, 'image_prompt: "Caption {{name}}"', 'incremental: true', 'out: out/once-{date}.jsonl'].join('\n'),
    );
    const res = await runCli(['--prefix', prefix, 'run', job, '--date', '2026-02-01']);
    assert.equal(res.code, 5, res.stderr);
    assert.match(res.stderr, /respool retry --name once-2026-02-01 queues it again/);
    assert.match(res.stderr, /summary of once-2026-02-01 \(complete\): 2 items, 1 failures/);
    const lines = await readLines(path.join(dir, 'out', 'once-2026-02-01.jsonl'));
    assert.deepEqual(lines.map((l) => `${l.custom_id} ${l.status}`).sort(), ['bad[[status:400]].jpg failed', 'fine.jpg completed']);
  });

  it('refuses a bad time zone, a missing pattern, and incremental jobs in enqueue', async () => {
    await mkdir(path.join(dir, 'sched'), { recursive: true });
    const job = path.join(dir, 'bad.yaml');
    await writeFile(job, ['name: bad', 'inputs: [sched]', 'model: m', 'incremental: true', 'out: out/bad-{date}.jsonl'].join('\n'));
    const tz = await runCli(['--prefix', prefix, 'schedule', job, '--cron', '0 2 * * *', '--tz', 'Mars/Olympus']);
    assert.equal(tz.code, 2);
    assert.match(tz.stderr, /unknown time zone "Mars\/Olympus"/);
    const none = await runCli(['--prefix', prefix, 'schedule', job]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /--cron PATTERN or --every MS/);
    const cron = await runCli(['--prefix', prefix, 'schedule', job, '--cron', 'not a cron']);
    assert.equal(cron.code, 2, cron.stderr);
    const enq = await runCli(['--prefix', prefix, 'enqueue', job]);
    assert.equal(enq.code, 2);
    assert.match(enq.stderr, /incremental: true jobs are started by/);
  });
});
