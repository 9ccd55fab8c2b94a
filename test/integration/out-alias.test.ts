import assert from 'node:assert/strict';
import { link, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { ConfigError, resolveConfig } from '../../src/config/load.js';
import { openRespool } from '../../src/index.js';
import { REDIS_URL, runCli, tempDir, testPrefix } from '../helpers/cli.js';
import { deletePrefix } from '../helpers/redis-scan.js';

/**
 * `out` must not be an input under another name: a symbolic link, a hard link, or a path through a
 * linked folder. Real files; a run is refused in process through the library; the export case runs
 * the built command.
 */
describe('out is refused when it is an input through a link', () => {
  let dir: string;
  let input: string;
  before(async () => {
    dir = await tempDir();
    input = path.join(dir, 'data', 'items.jsonl');
    await mkdir(path.dirname(input));
    await writeFile(input, '{"custom_id":"a","prompt":"hi"}\n');
  });

  const settingsError = (out: string, inputs = [input]) => {
    try {
      resolveConfig([{ origin: 'flags', values: { inputs, model: 'm', out } }]);
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return err.message;
    }
    return null;
  };

  it('a symbolic link to the input', async () => {
    const out = path.join(dir, 'sym.jsonl');
    await symlink(input, out);
    // Given as flags, the message names the flag it came from.
    assert.match(settingsError(out) ?? '', /out: .*sym\.jsonl is also an input: it is the same file as .*items\.jsonl \(through a link\) \(from --out\)/);
  });

  it('a hard link to the input', async () => {
    const out = path.join(dir, 'hard.jsonl');
    await link(input, out);
    assert.match(settingsError(out) ?? '', /out: .*hard\.jsonl is also an input: it is the same file as .*items\.jsonl/);
  });

  it('the input reached through a linked folder', async () => {
    await symlink(path.join(dir, 'data'), path.join(dir, 'via'));
    assert.match(settingsError(path.join(dir, 'via', 'items.jsonl')) ?? '', /is also an input/);
  });

  it('a results file not yet written, inside an input folder reached through a link', () => {
    assert.match(settingsError(path.join(dir, 'via', 'new.jsonl'), [path.join(dir, 'data')]) ?? '', /new\.jsonl is inside the input folder .*data: the next run would read it as an input/);
  });

  it('an existing results file matched by an input pattern', async () => {
    const out = path.join(dir, 'data', 'results.jsonl');
    await writeFile(out, '');
    assert.match(settingsError(out, [path.join(dir, 'data', '*.jsonl')]) ?? '', /results\.jsonl is matched by the input pattern .*\*\.jsonl: the run would read it as an input/);
    assert.equal(settingsError(out, [path.join(dir, 'data', 'items*.jsonl')]), null);
  });

  it('another file is fine', () => {
    assert.equal(settingsError(path.join(dir, 'other.jsonl')), null);
    assert.equal(settingsError(path.join(dir, 'data', 'new.jsonl')), null);
  });

  it('a run with out linked to its input: a ConfigError naming out, the input untouched, nothing queued', async () => {
    const prefix = testPrefix();
    const out = path.join(dir, 'run-link.jsonl');
    await symlink(input, out);
    const before = await readFile(input, 'utf8');
    const rp = await openRespool({ redis: REDIS_URL, prefix, cwd: dir });
    try {
      assert.throws(
        () => rp.run({ name: 'alias', inputs: input, model: 'm', base_url: 'http://127.0.0.1:9/v1', out }),
        (err: unknown) =>
          err instanceof ConfigError &&
          /invalid job settings:\n {2}- out: .*run-link\.jsonl is also an input: it is the same file as .*items\.jsonl \(through a link\) \(from job\)/.test(err.message),
      );
      assert.equal(await readFile(input, 'utf8'), before);
      assert.equal(await rp.status('alias'), null);
      assert.deepEqual(await rp.status(), []);
    } finally {
      await rp.close();
      await deletePrefix(prefix);
    }
  });
});

describe('export --out is refused when it is one of its inputs through a link (command line)', () => {
  it('a link to the --join input: exit 2, the input untouched', async () => {
    const dir = await tempDir();
    const join = path.join(dir, 'rows.csv');
    const results = path.join(dir, 'results.jsonl');
    await writeFile(join, 'id,text\na,hi\n');
    await writeFile(results, '');
    const out = path.join(dir, 'joined.csv');
    await symlink(join, out);
    const res = await runCli(['export', results, '--join', join, '--out', out]);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /--out .*joined\.csv would overwrite an input of the export/);
    assert.equal(await readFile(join, 'utf8'), 'id,text\na,hi\n');
  });
});
