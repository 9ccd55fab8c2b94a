import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { FakeServer } from '../../src/fake-server/index.js';
import { compactTempPath } from '../../src/sinks/compact.js';
import { countIds, finished, readLines, runCli, spawnCli, testPrefix, waitFor } from '../helpers/cli.js';
import { withFakeServer } from '../helpers/fake-suite.js';

/**
 * The collector SIGKILLed in the middle of the rewrite that follows a retry: the file is intact, and
 * the next collector finishes with one line per custom_id. Real CLI, Redis and fake server.
 */
describe('retry: collector killed during the file rewrite', () => {
  let fake: FakeServer;
  const prefix = testPrefix();
  let dir: string;

  withFakeServer(prefix, (s) => ({ fake, dir } = s));

  it('keeps the file whole and ends with exactly one line per custom_id', async () => {
    const input = path.join(dir, 'in.jsonl');
    await writeFile(input, Array.from({ length: 20 }, (_, i) => JSON.stringify({ custom_id: `k${i}`, prompt: `p ${i}` })).join('\n') + '\n');
    const out = path.join(dir, 'out.jsonl');
    // Lines already in the file from elsewhere make the rewrite take long enough to be caught in it.
    const padding = Array.from({ length: 150_000 }, (_, i) => JSON.stringify({ custom_id: `older-${i}`, status: 'completed', output_text: 'x'.repeat(150) }));
    await writeFile(out, padding.join('\n') + '\n');

    fake.setOptions({ faults: { rate500: 0.5, seed: 3 } });
    const first = await runCli(['--prefix', prefix, 'run', '--name', 'kr', '--input', input, '--model', 'm', '--base-url', fake.url, '--out', out, '--attempts', '1']);
    // Complete, with failed lines: exit code 5 (the collect after the retry, with none left, exits 0).
    assert.equal(first.code, 5, first.stderr);
    const failed = (await readLines(out)).filter((l) => l.custom_id.startsWith('k') && l.status === 'failed').length;
    assert.ok(failed >= 2, `failed ${failed}`);

    fake.setOptions({ faults: undefined });
    assert.equal((await runCli(['--prefix', prefix, 'retry', '--name', 'kr'])).code, 0);
    const worker = spawnCli(['--prefix', prefix, 'worker', '--name', 'kr']);
    try {
      // The first collector writes the new lines, starts the rewrite and is killed while the copy exists.
      const collector = spawnCli(['--prefix', prefix, 'collect', '--name', 'kr']);
      const ended = finished(collector, 60_000);
      await waitFor(() => existsSync(compactTempPath(out)) || collector.exitCode !== null, 60_000, 'the rewrite to start');
      assert.equal(collector.exitCode, null, 'the collector finished before it could be killed');
      collector.kill('SIGKILL');
      await ended;
      // The file itself is as it was before the rewrite: whole (readLines throws on a torn line), with
      // the old and the new line of every retried item (the rewrite waits for all new lines).
      const mid = await readLines(out);
      assert.equal(mid.length, 150_000 + 20 + failed);

      const again = await runCli(['--prefix', prefix, 'collect', '--name', 'kr']);
      assert.equal(again.code, 0, again.stderr);
      assert.ok(!existsSync(compactTempPath(out)), 'the copy is gone');
      const lines = await readLines(out);
      assert.equal(lines.length, 150_000 + 20);
      const counts = countIds(lines);
      for (let i = 0; i < 20; i++) assert.equal(counts.get(`k${i}`), 1, `k${i}`);
      assert.ok(lines.filter((l) => l.custom_id.startsWith('k')).every((l) => l.status === 'completed'));
      assert.equal(lines.filter((l) => l.custom_id.startsWith('older-')).length, 150_000);
    } finally {
      worker.kill('SIGTERM');
      await finished(worker, 40_000);
    }
  });
});
