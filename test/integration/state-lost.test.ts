import assert from 'node:assert/strict';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { before, beforeEach, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { FakeServer } from '../../src/fake-server/index.js';
import { numberedIds, writePrompts } from '../helpers/prompts.js';
import { assertEachIdOnce, lineCount, readLines, testPrefix, waitFor } from '../helpers/cli.js';
import { withOwnRedis, type OwnRedis } from '../helpers/own-redis.js';
import { Proc } from '../helpers/procs.js';

/**
 * A run whose Redis state vanishes mid-run (FLUSHALL, a restart without its data) stops with exit
 * code 7 instead of hanging, and the next run goes on from the results file: each custom_id once,
 * and only the calls that were in flight paid twice. A redis-server of this file's own.
 */
const CONCURRENCY = 8;
const ITEMS = 400;

describe('the run state vanishes from Redis mid-run', { timeout: 180_000 }, () => {
  let redis: OwnRedis;
  let fake: FakeServer;
  let dir: string;
  const prefix = testPrefix();
  const suite = withOwnRedis(prefix, { OPENRESPONSES_API_KEY: 'sk-lost-test' });
  before(() => ({ redis, fake, dir } = suite));
  beforeEach(() => {
    fake.reset();
    fake.setOptions({ latencyMs: 40 });
  });

  async function setUp(name: string): Promise<{ ids: string[]; args: string[]; out: string }> {
    const ids = numberedIds(`${name}-`, ITEMS);
    const input = path.join(dir, `${name}.in.jsonl`);
    const out = path.join(dir, `${name}.out.jsonl`);
    await writePrompts(input, ids.map((id) => [id, `about ${id}`]));
    const args = ['--prefix', prefix, 'run', '--name', name, '--input', input, '--model', 'm', '--base-url', fake.url, '--out', out, '--concurrency', String(CONCURRENCY)];
    return { ids, args, out };
  }
  // A hung run is killed (and fails the test) instead of hanging it.
  const start = (args: string[]) => new Proc(args, { env: suite.env(), killAfterMs: 60_000 });

  async function lostThenResumed(name: string, lose: () => Promise<void>): Promise<number> {
    const { ids, args, out } = await setUp(name);
    const first = start(args);
    await waitFor(async () => (await lineCount(out)) >= 100, 30_000, '100 lines');
    await lose();
    const stopped = await first.done;
    assert.equal(stopped.code, 7, `exit 7 (got ${stopped.code} ${stopped.signal}): ${stopped.stderr.slice(-2000)}`);
    assert.match(stopped.stderr, /the state of run .* is gone from Redis .*run it again, it goes on from the results file/);
    const written = await lineCount(out);
    assert.ok(written < ITEMS, `the run stopped before it was complete (${written} lines)`);

    const again = await start(args).done;
    assert.equal(again.code, 0, again.stderr.slice(-2000));
    assert.match(again.stderr, new RegExp(`${written} of them not known to Redis`));
    assertEachIdOnce(await readLines(out), ids);
    const calls = Object.values(fake.stats().byKey);
    const extra = calls.reduce((sum, n) => sum + (n - 1), 0);
    assert.equal(calls.length, ITEMS);
    // Only calls in flight when the state vanished (at most CONCURRENCY) are paid again, and lines
    // delivered but not yet written (the collector takes them within milliseconds): both had nowhere
    // to go. Measured: 1 to 8 over six runs of each case.
    assert.ok(extra <= 2 * CONCURRENCY, `paid twice: ${extra} > ${2 * CONCURRENCY}`);
    return extra;
  }

  it('FLUSHALL (on this test\'s own server): exit 7, then the next run completes, each custom_id once', async (t) => {
    const extra = await lostThenResumed('flushed', async () => {
      const admin = new Redis(redis.url);
      try {
        await admin.flushall();
      } finally {
        admin.disconnect();
      }
    });
    t.diagnostic(`paid twice: ${extra}`);
  });

  it('Redis restarted without its data: exit 7, then the next run completes, each custom_id once', async (t) => {
    const extra = await lostThenResumed('restarted', async () => {
      await redis.stop('SIGKILL');
      for (const f of await readdir(redis.dir)) await rm(path.join(redis.dir, f), { recursive: true, force: true });
      await redis.start();
    });
    t.diagnostic(`paid twice: ${extra}`);
  });
});
