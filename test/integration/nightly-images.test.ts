import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, beforeEach, describe, it } from 'node:test';
import type { FakeServer } from '../../src/fake-server/index.js';
import type { ReceivedImage } from '../../src/fake-server/received-images.js';
import type { Job, Respool } from '../../src/index.js';
import { testPrefix } from '../helpers/cli.js';
import { runJob, withLibrary } from '../helpers/library.js';
import { bmpBytes, writePhoto } from '../helpers/photos.js';

/** Image processing in process through the library, real Redis and the fake server, which reports what it received. */
describe('images: downscaling, orientation, conversion, several per item', () => {
  let fake: FakeServer;
  let rp: Respool;
  const prefix = testPrefix();
  let dir: string;
  let bigBytes = 0;

  withLibrary(prefix, (s) => ({ fake, dir, rp } = s));
  before(async () => {
    await mkdir(path.join(dir, 'photos'));
    bigBytes = await writePhoto(path.join(dir, 'photos', 'big.jpg'), { width: 4000, height: 3000, seed: 1 });
    await writePhoto(path.join(dir, 'photos', 'rotated.jpg'), { width: 1200, height: 900, seed: 2, orientation: 6 });
    await writePhoto(path.join(dir, 'photos', 'scan.tiff'), { width: 600, height: 400, seed: 3, format: 'tiff' });
    await writeFile(path.join(dir, 'photos', 'old.bmp'), bmpBytes(200, 100, 4));
    await writeFile(path.join(dir, 'pairs.jsonl'), `${JSON.stringify({ custom_id: 'pair', prompt: 'Compare these', images: ['photos/big.jpg', 'photos/rotated.jpg'] })}\n`);
    await writeFile(path.join(dir, 'pairs.csv'), 'id,prompt,image\nc1,Compare,photos/big.jpg|photos/scan.tiff\nc2,One only,photos/old.bmp\n');
  });
  beforeEach(() => fake.reset());

  /** Runs the job to its end: complete, no failed line (the command line's exit code 0). */
  async function run(name: string, settings: Omit<Job, 'name'>) {
    const done = await runJob(rp, { name, model: 'test-model', base_url: fake.url, out: `${name}.jsonl`, ...settings });
    assert.equal(done.result.outcome, 'complete');
    assert.equal(done.result.failedLines, 0);
    assert.equal(done.result.out, path.join(dir, `${name}.jsonl`));
    return done;
  }
  const shapes = (images: ReceivedImage[]) => images.map((i) => `${i.mime} ${i.width}x${i.height}`).sort();

  it('resize auto at detail low: every image arrives within 512x512, oriented, BMP and TIFF as JPEG', async () => {
    const { lines } = await run('low', { inputs: ['photos'], detail: 'low', resize: 'auto' });
    assert.deepEqual(lines.map((l) => `${l.custom_id} ${l.status}`).sort(), ['big.jpg completed', 'old.bmp completed', 'rotated.jpg completed', 'scan.tiff completed']);
    // 4000x3000 -> 512x384; 1200x900 stored with orientation 6 is 900x1200 upright -> 384x512;
    // 600x400 -> 512x341; the 200x100 BMP is small enough to keep its size.
    assert.deepEqual(shapes(fake.stats().images), ['image/jpeg 200x100', 'image/jpeg 384x512', 'image/jpeg 512x341', 'image/jpeg 512x384']);
    assert.ok(fake.stats().requestBytes < bigBytes, `uploaded ${fake.stats().requestBytes} bytes for four images; the big photo alone has ${bigBytes}`);
  });

  it('resize off: the photo goes as it is, and BMP and TIFF are rejected by name', async () => {
    const { lines } = await run('off', { inputs: ['photos'], detail: 'low', resize: 'off' });
    const byId = new Map(lines.map((l) => [l.custom_id, l]));
    assert.equal(byId.get('old.bmp')?.status, 'rejected');
    assert.match(byId.get('old.bmp')!.error!.message, /BMP images are not accepted/);
    assert.match(byId.get('scan.tiff')!.error!.message, /TIFF images are not accepted/);
    // Without processing, the stored (unrotated) size is sent.
    assert.deepEqual(shapes(fake.stats().images), ['image/jpeg 1200x900', 'image/jpeg 4000x3000']);
    assert.ok(fake.stats().requestBytes > bigBytes);
  });

  it('several images per item: a JSONL images array and a CSV column with image_separator, at detail high', async () => {
    const { lines } = await run('multi', { inputs: ['pairs.jsonl', 'pairs.csv'], detail: 'high', resize: 'auto', image_separator: '|' });
    assert.deepEqual(lines.map((l) => `${l.custom_id} ${l.status}`).sort(), ['c1 completed', 'c2 completed', 'pair completed']);
    assert.equal(fake.stats().requests, 3);
    // high: fit 2048, then short side 768. The pair, then c1 (big + scan), then c2 (the BMP).
    assert.deepEqual(shapes(fake.stats().images), ['image/jpeg 1024x768', 'image/jpeg 1024x768', 'image/jpeg 200x100', 'image/jpeg 600x400', 'image/jpeg 768x1024']);
  });

  it('a file over max_image_bytes is rejected with a line that says so', async () => {
    const { lines } = await run('cap', { inputs: ['photos/big.jpg', 'photos/old.bmp'], resize: 'auto', max_image_bytes: 100_000 });
    const byId = new Map(lines.map((l) => [l.custom_id, l]));
    assert.equal(byId.get('big.jpg')?.status, 'rejected');
    assert.match(byId.get('big.jpg')!.error!.message, new RegExp(`photos/big\\.jpg: the image is ${bigBytes} bytes, over the limit of 100000 bytes`));
    assert.equal(byId.get('old.bmp')?.status, 'completed');
    assert.equal(fake.stats().requests, 1);
  });
});
