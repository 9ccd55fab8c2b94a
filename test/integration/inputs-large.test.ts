import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { readInputs } from '../../src/inputs/index.js';

const ROWS = 200_000;
// ~700 bytes a row makes a ~140 MB file: holding its rows as items would by itself pass the heap bound below.
const FILLER = 'lorem ipsum dolor sit amet, '.repeat(25);
const HEAP_BOUND = 150 * 1024 * 1024;

async function writeLargeCsv(file: string): Promise<void> {
  const out = createWriteStream(file);
  const write = async (chunk: string) => {
    if (!out.write(chunk)) await once(out, 'drain');
  };
  await write('id,text\r\n');
  const batch: string[] = [];
  for (let i = 1; i <= ROWS; i++) {
    batch.push(`row-${i},"${i}: ${FILLER}"\r\n`);
    if (batch.length === 1000 || i === ROWS) await write(batch.splice(0).join(''));
  }
  out.end();
  await once(out, 'finish');
}

describe('large CSV', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'respool-large-'));
    await writeLargeCsv(path.join(dir, 'big.csv'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it(`streams ${ROWS} rows with bounded memory`, async () => {
    const size = (await stat(path.join(dir, 'big.csv'))).size;
    assert.ok(size > HEAP_BOUND * 0.8, `the file (${size} bytes) is large enough that buffering it would show`);

    let count = 0;
    let maxHeap = 0;
    let lastId = '';
    let lastLine = 0;
    for await (const outcome of readInputs(['big.csv'], { cwd: dir, template: '{{text}}' })) {
      assert.equal(outcome.type, 'item');
      if (outcome.type !== 'item') continue;
      count++;
      lastId = outcome.item.customId;
      lastLine = 'line' in outcome.item.source ? outcome.item.source.line : -1;
      if (count % 1000 === 0) maxHeap = Math.max(maxHeap, process.memoryUsage().heapUsed);
    }
    assert.equal(count, ROWS);
    assert.equal(lastId, `row-${ROWS}`);
    assert.equal(lastLine, ROWS + 1);
    assert.ok(maxHeap < HEAP_BOUND, `heap peaked at ${Math.round(maxHeap / 1024 / 1024)} MB`);
  });

  it('stops reading when the consumer stops early', async () => {
    const generator = readInputs(['big.csv'], { cwd: dir, template: '{{text}}' });
    const first = await generator.next();
    assert.equal(first.done, false);
    // Returning closes the file; a reader that had buffered ahead would already have used the memory.
    await generator.return(undefined);
    assert.ok(process.memoryUsage().heapUsed < HEAP_BOUND);
  });
});
