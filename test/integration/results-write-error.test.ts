import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { FakeServer } from '../../src/fake-server/index.js';
import { ResultsFile } from '../../src/sinks/results-file.js';
import { numberedIds, writePrompts } from '../helpers/prompts.js';
import { assertEachIdOnce, readLines, runCli, testPrefix } from '../helpers/cli.js';
import { withFakeServer } from '../helpers/fake-suite.js';

// Writes to /dev/full fail with ENOSPC: a full disk without filling one.
const FULL = '/dev/full';
const skip = existsSync(FULL) ? false : `${FULL} is missing`;

/** A results file that cannot be written: the error names it, the run stops, nothing is lost. */
describe('results file write errors', () => {
  let fake: FakeServer;
  const prefix = testPrefix();
  let dir: string;
  withFakeServer(prefix, (s) => ({ fake, dir } = s));

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
    const args = ['--prefix', prefix, 'run', '--name', 'full', '--input', input, '--model', 'm', '--base-url', fake.url, '--out', out];

    const first = await runCli(args);
    assert.equal(first.code, 1, first.stderr);
    assert.match(first.stderr, /cannot write the results file .*full\.jsonl: no space left on the device \(ENOSPC\)\. Nothing is lost/);

    // Room again: the same path is now a plain file.
    await rm(out);
    const second = await runCli(args);
    assert.equal(second.code, 0, second.stderr);
    const lines = await readLines(out);
    assertEachIdOnce(lines, ids);
    assert.ok(lines.every((l) => l.status === 'completed'));
  });
});
