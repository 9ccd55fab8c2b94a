import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FakeServer } from '../../src/fake-server/index.js';
import { jobIdFor } from '../../src/queue/keys.js';
import { assertEachIdOnce, readLines, runCli, testPrefix } from '../helpers/cli.js';
import { withFakeServer } from '../helpers/fake-suite.js';
import { Proc, stopAll } from '../helpers/procs.js';

const ENV = { RESPOOL_LOCK_DURATION_MS: '2000', RESPOOL_STALLED_INTERVAL_MS: '1000', OPENRESPONSES_API_KEY: 'sk-batch-crash' };

describe('batch mode across processes', () => {
  let fake: FakeServer;
  const prefix = testPrefix();
  let dir: string;
  const procs: Proc[] = [];
  // Slow batches: 30 requests take about 6 s, so the worker dies while its batch is in flight.
  withFakeServer(prefix, (s) => ({ fake, dir } = s), { batch: { msPerRequest: 200 } });

  it('a worker SIGKILLed while its batch is in flight: the next worker polls that batch and submits nothing twice', async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `k${i}`);
    const input = path.join(dir, 'kill.in.jsonl');
    await writeFile(input, ids.map((id) => JSON.stringify({ custom_id: id, prompt: `about ${id}` })).join('\n') + '\n');
    const out = path.join(dir, 'kill.out.jsonl');
    const common = ['--prefix', prefix];
    fake.reset();
    try {
      const enqueued = await runCli([...common, 'enqueue', '--name', 'kill', '--input', input, '--model', 'gpt-4o-mini', '--base-url', fake.url, '--out', out, '--mode', 'batch', '--batch-poll-ms', '50'], { env: ENV });
      assert.equal(enqueued.code, 0, enqueued.stderr);
      const collector = new Proc([...common, 'collect', '--name', 'kill', '--out', out], { env: ENV });
      procs.push(collector);
      const first = new Proc([...common, 'worker', '--name', 'kill'], { env: ENV });
      procs.push(first);
      while (fake.stats().batch.batchesCreated === 0) await sleep(20);
      const killed = await first.kill('SIGKILL');
      assert.equal(killed.signal, 'SIGKILL');
      assert.ok(fake.stats().batch.byStatus.completed === undefined, 'killed while the batch was still in flight');

      const second = new Proc([...common, 'worker', '--name', 'kill'], { env: ENV });
      procs.push(second);
      const collected = await collector.done;
      assert.equal(collected.code, 0, collected.stderr);
      const stopped = await second.kill('SIGTERM');
      assert.match(stopped.stderr, /provider batch \S+ completed: 30 lines/);

      assertEachIdOnce(await readLines(out), ids);
      const stats = fake.stats();
      assert.equal(stats.batch.batchesCreated, 1, 'no second batch');
      assert.equal(stats.requests, 0, 'no online call');
      for (const id of ids) {
        assert.equal(stats.batch.submitted[jobIdFor('kill', id)], 1, `${id} submitted once`);
        assert.equal(stats.billed[jobIdFor('kill', id)], 1, `${id} billed once`);
      }
    } finally {
      await stopAll(procs);
    }
  });
});
