import assert from 'node:assert/strict';
import { readFile, writeFile, access } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { jobIdFor, runKeys } from '../../src/queue/keys.js';
import { markWritten, RunLedger } from '../../src/queue/ledger.js';
import { compactResults, compactTempPath, removeStaleCopy } from '../../src/sinks/compact.js';
import { REDIS_URL, tempDir, testPrefix } from '../helpers/cli.js';
import { deletePrefix } from '../helpers/redis-scan.js';

const line = (id: string, status: string, n: number) => JSON.stringify({ custom_id: id, status, n });

/** The rewrite that drops retried items' old lines: real files, real Redis. */
describe('results file rewrite after retry', () => {
  const prefix = testPrefix();
  after(() => deletePrefix(prefix));

  it('keeps only the last line of each retried item, in place, and doing it again changes nothing', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'out.jsonl');
    const text = [line('a', 'failed', 1), line('b', 'completed', 2), line('c:x\n', 'failed', 3), line('a', 'completed', 4), line('c:x\n', 'completed', 5), line('d', 'failed', 6)].join('\n') + '\n';
    await writeFile(file, text);
    const ids = new Set([jobIdFor('r', 'a'), jobIdFor('r', 'c:x\n')]);
    assert.equal(await compactResults(file, 'r', ids), 2);
    const expected = [line('b', 'completed', 2), line('a', 'completed', 4), line('c:x\n', 'completed', 5), line('d', 'failed', 6)].join('\n') + '\n';
    assert.equal(await readFile(file, 'utf8'), expected);
    // A collector that died after the rename does the same rewrite again: nothing more goes.
    assert.equal(await compactResults(file, 'r', ids), 0);
    assert.equal(await readFile(file, 'utf8'), expected);
    await assert.rejects(access(compactTempPath(file)));
  });

  it('a copy left by a collector killed while rewriting is removed; the file is untouched', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'out.jsonl');
    await writeFile(file, line('a', 'completed', 1) + '\n');
    await writeFile(compactTempPath(file), line('a', 'completed', 1).slice(0, 10));
    await removeStaleCopy(file);
    await assert.rejects(access(compactTempPath(file)));
    assert.equal(await readFile(file, 'utf8'), line('a', 'completed', 1) + '\n');
  });

  it('items are due once every retried item has its new line, and one retried again meanwhile stays marked', async () => {
    const redis = new Redis(REDIS_URL);
    try {
      const keys = runKeys('r', prefix);
      await redis.hset(keys.meta, 'settings', '{}');
      // i1's new line is written; i2's is still in flight.
      await redis.hset(keys.ledger, 'i1', '=/x.jsonl:1', 'i2', '-/x.jsonl:2');
      await markWritten(redis, keys, ['i1']);
      await redis.hset(keys.superseded, 'i1', '1', 'i2', '1');
      // i2's new line is not written yet: nothing is due, so that the file is rewritten once for both.
      assert.deepEqual(await new RunLedger(redis, keys).supersededDue(), []);
      await markWritten(redis, keys, ['i2']);
      const due = await new RunLedger(redis, keys).supersededDue();
      assert.deepEqual(due.sort((a, b) => a.id.localeCompare(b.id)), [{ id: 'i1', generation: '1' }, { id: 'i2', generation: '1' }]);
      // i1 is retried again before the rewrite finishes: its mark must survive.
      await redis.hincrby(keys.superseded, 'i1', 1);
      await new RunLedger(redis, keys).supersededDone(due);
      assert.equal(await redis.hget(keys.superseded, 'i1'), '2');
      assert.equal(await redis.hget(keys.superseded, 'i2'), null);
      await new RunLedger(redis, keys).supersededDone([{ id: 'i1', generation: '2' }]);
      assert.equal(await redis.hget(keys.superseded, 'i1'), null);
    } finally {
      redis.disconnect();
    }
  });
});
