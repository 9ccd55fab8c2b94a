import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { countInputItems } from '../../src/inputs/count.js';
import { readInputs } from '../../src/inputs/index.js';
import { tempDir } from '../helpers/cli.js';

async function readCount(inputs: string[], cwd: string): Promise<number> {
  let n = 0;
  for await (const outcome of readInputs(inputs, { cwd })) if (outcome) n++;
  return n;
}

/** Counting ahead of the reader, on real files: what progress shows as the total while the reader runs. */
describe('countInputItems', () => {
  it('counts CSV rows without the header, JSONL lines, and one item per other file of a folder or pattern', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'rows.csv'), 'id,prompt\r\na,one\r\n\r\nb,two\r\nc,three');
    await writeFile(path.join(dir, 'a.jsonl'), '{"prompt":"1"}\n\n{"prompt":"2"}\n   \n{"prompt":"3"}\n');
    await writeFile(path.join(dir, 'b.jsonl'), '{"prompt":"4"}\n');
    await mkdir(path.join(dir, 'pics', 'nested'), { recursive: true });
    for (const f of ['pics/x.png', 'pics/nested/y.jpg', 'pics/notes.txt', 'pics/.hidden.png']) await writeFile(path.join(dir, f), 'not really an image');

    assert.equal(await countInputItems(['rows.csv'], dir), 3);
    assert.equal(await countInputItems(['a.jsonl'], dir), 3);
    assert.equal(await countInputItems(['*.jsonl'], dir), 4);
    // notes.txt is neither an image by name nor by content: the reader skips it, and so does the count.
    assert.equal(await countInputItems(['pics'], dir), 2);
    assert.equal(await countInputItems(['rows.csv', '*.jsonl', 'pics'], dir), 9);
    // The reader yields as many outcomes (items and rejected ones) for these simple files.
    assert.equal(await readCount(['rows.csv', '*.jsonl', 'pics'], dir), 9);
  });

  it('counts an input that cannot be read as one (it ends as one rejected line)', async () => {
    const dir = await tempDir();
    assert.equal(await countInputItems(['missing.csv'], dir), 1);
    assert.equal(await readCount(['missing.csv'], dir), 1);
  });

  it('is null once stopped', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'a.jsonl'), '{"prompt":"1"}\n');
    assert.equal(await countInputItems(['a.jsonl'], dir, AbortSignal.abort()), null);
  });
});
