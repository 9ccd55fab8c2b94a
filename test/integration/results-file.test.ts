import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ResultsFile } from '../../src/sinks/results-file.js';

describe('ResultsFile', () => {
  let dir: string;
  let n = 0;
  const fresh = () => path.join(dir, `f${++n}.jsonl`);

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'respool-results-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Opens `file`, runs `fn`, and always closes the handle. */
  async function withFile<T>(file: string, fn: (f: ResultsFile) => Promise<T>): Promise<T> {
    const f = await ResultsFile.open(file);
    try {
      return await fn(f);
    } finally {
      await f.close();
    }
  }

  it('creates missing folders and an empty file; path is absolute', async () => {
    const file = path.join(dir, 'deep', 'er', 'out.jsonl');
    await withFile(path.relative(process.cwd(), file), async (f) => {
      assert.equal(f.path, file);
      assert.equal(f.bytes, 0);
    });
    assert.equal((await stat(file)).size, 0);
  });

  it('append writes whole lines, one newline each, and tracks the size in bytes', async () => {
    const file = fresh();
    await withFile(file, async (f) => {
      await f.append(['{"a":1}', '{"b":"ü"}']);
      await f.append([]);
      await f.append(['{"c":3}']);
      const expected = '{"a":1}\n{"b":"ü"}\n{"c":3}\n';
      assert.equal(f.bytes, Buffer.byteLength(expected));
      assert.equal(await readFile(file, 'utf8'), expected);
    });
  });

  it('appends after what is already in the file when reopened', async () => {
    const file = fresh();
    await writeFile(file, 'old\n');
    await withFile(file, async (f) => {
      assert.equal(f.bytes, 4);
      await f.append(['new']);
      assert.equal(f.bytes, 8);
    });
    assert.equal(await readFile(file, 'utf8'), 'old\nnew\n');
  });

  it('dropTornTail removes a partial last line and reports its size', async () => {
    const file = fresh();
    await writeFile(file, 'one\ntwo\nthr');
    await withFile(file, async (f) => {
      assert.equal(await f.dropTornTail(), 3);
      assert.equal(f.bytes, 8);
      await f.append(['three']);
    });
    assert.equal(await readFile(file, 'utf8'), 'one\ntwo\nthree\n');
  });

  it('dropTornTail leaves a file that ends with a newline alone', async () => {
    const file = fresh();
    await writeFile(file, 'one\ntwo\n');
    await withFile(file, async (f) => {
      assert.equal(await f.dropTornTail(), 0);
      assert.equal(f.bytes, 8);
    });
    assert.equal(await readFile(file, 'utf8'), 'one\ntwo\n');
  });

  it('dropTornTail on an empty file does nothing', async () => {
    const file = fresh();
    await withFile(file, async (f) => {
      assert.equal(await f.dropTornTail(), 0);
      assert.equal(f.bytes, 0);
    });
  });

  it('dropTornTail empties a file without any newline', async () => {
    const file = fresh();
    await writeFile(file, '{"torn":');
    await withFile(file, async (f) => {
      assert.equal(await f.dropTornTail(), 8);
      assert.equal(f.bytes, 0);
    });
    assert.equal((await stat(file)).size, 0);
  });

  it('dropTornTail finds the last newline when the torn line is longer than its read chunk', async () => {
    const file = fresh();
    const torn = 'x'.repeat(200_000);
    await writeFile(file, `keep-1\nkeep-2\n${torn}`);
    await withFile(file, async (f) => {
      assert.equal(await f.dropTornTail(), torn.length);
      assert.equal(f.bytes, 14);
    });
    assert.equal(await readFile(file, 'utf8'), 'keep-1\nkeep-2\n');

    const noNewline = fresh();
    await writeFile(noNewline, 'y'.repeat(150_000));
    await withFile(noNewline, async (f) => assert.equal(await f.dropTornTail(), 150_000));
    assert.equal((await stat(noNewline)).size, 0);
  });

  it('dropTornTail keeps multi-byte characters of whole lines intact', async () => {
    const file = fresh();
    await writeFile(file, '{"t":"日本"}\n{"t":"日');
    await withFile(file, async (f) => {
      await f.dropTornTail();
    });
    assert.equal(await readFile(file, 'utf8'), '{"t":"日本"}\n');
  });

  it('truncate cuts back to an offset, and later appends go right after it', async () => {
    const file = fresh();
    await withFile(file, async (f) => {
      await f.append(['first']);
      const offset = f.bytes;
      await f.append(['second', 'third']);
      await f.truncate(offset);
      assert.equal(f.bytes, offset);
      assert.equal(await readFile(file, 'utf8'), 'first\n');
      await f.append(['again']);
    });
    assert.equal(await readFile(file, 'utf8'), 'first\nagain\n');
  });

  it('sees bytes appended by someone else before it was opened (size comes from the file)', async () => {
    const file = fresh();
    await writeFile(file, 'a\n');
    await appendFile(file, 'b\npartial');
    await withFile(file, async (f) => {
      assert.equal(f.bytes, 11);
      assert.equal(await f.dropTornTail(), 7);
      await f.truncate(0);
      assert.equal(f.bytes, 0);
    });
    assert.equal((await stat(file)).size, 0);
  });
});
