import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { FakeServer } from '../../src/fake-server/index.js';
import type { Respool } from '../../src/index.js';
import { ResultsFile } from '../../src/sinks/results-file.js';
import { numberedIds, writePrompts } from '../helpers/prompts.js';
import { assertEachIdOnce, testPrefix } from '../helpers/cli.js';
import { runJob, withLibrary } from '../helpers/library.js';

// Writes to /dev/full fail with ENOSPC: a full disk without filling one.
const FULL = '/dev/full';
const skip = existsSync(FULL) ? false : `${FULL} is missing`;

/** A results file that cannot be written: the error names it, the run stops, nothing is lost. In process through the library. */
describe('results file write errors', () => {
  let fake: FakeServer;
  let rp: Respool;
  const prefix = testPrefix();
  let dir: string;
  withLibrary(prefix, (s) => ({ fake, dir, rp } = s));

  it('ResultsFile names the file and the cause on ENOSPC and when the path is under a file', { skip }, async () => {
    const full = await ResultsFile.open(FULL);
    try {
      await assert.rejects(full.append(['{"x":1}']), /^Error: cannot write the results file \/dev\/full: no space left on the device \(ENOSPC\)\. Nothing is lost/);
    } finally {
      await full.close();
    }
    const file = path.join(dir, 'plain.txt');
    await writeFile(file, '');
    await assert.rejects(ResultsFile.open(path.join(file, 'results.jsonl')), /cannot write the results file .*plain\.txt\/results\.jsonl: EEXIST: file already exists, mkdir .*plain\.txt'\. Nothing is lost/);
  });

  it('a run whose results file is on a full disk stops with a message naming the file; run again once there is room, every item once', { skip }, async () => {
    const input = path.join(dir, 'items.jsonl');
    const ids = numberedIds('w', 5);
    await writePrompts(input, ids.map((id) => [id, id]));
    const out = path.join(dir, 'full.jsonl');
    await symlink(FULL, out);
    const job = { name: 'full', inputs: input, model: 'm', base_url: fake.url, out };

    // The run fails (the command line's exit code 1) with an error naming the file and the cause.
    await assert.rejects(rp.run(job).promise, /cannot write the results file .*full\.jsonl: no space left on the device \(ENOSPC\)\. Nothing is lost/);

    // Room again: the same path is now a plain file.
    await rm(out);
    const second = await runJob(rp, job);
    assert.equal(second.result.outcome, 'complete');
    assert.equal(second.result.failedLines, 0);
    assertEachIdOnce(second.lines, ids);
    assert.ok(second.lines.every((l) => l.status === 'completed'));
  });
});
