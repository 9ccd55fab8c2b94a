import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { decodeBmp } from '../../src/worker/images/bmp.js';
import { processBytes } from '../../src/worker/images/prepare.js';
import { estimateRequestTokens } from '../../src/cost/token-estimate.js';
import { imageTokens } from '../../src/cost/image-tokens.js';
import { bmpBytes, photoBytes, photoPixels } from '../helpers/photos.js';

describe('image processing (in memory)', () => {
  it('decodes a 24-bit BMP to the same pixels it was written from', () => {
    const raw = decodeBmp(bmpBytes(7, 5, 3));
    assert.equal(raw.width, 7);
    assert.equal(raw.height, 5);
    assert.equal(raw.channels, 3);
    assert.deepEqual(raw.data, photoPixels(7, 5, 3));
  });

  it('refuses a BMP variant it cannot read, naming it', () => {
    const bmp = bmpBytes(4, 4);
    bmp.writeUInt32LE(1, 30); // RLE8
    assert.throws(() => decodeBmp(bmp), /compression 1 is not supported/);
  });

  it('scales a large JPEG down to what detail low uses, as JPEG, without EXIF', async () => {
    const src = await photoBytes({ width: 2000, height: 1500, orientation: 1 });
    const out = await processBytes(src, 'low');
    assert.equal(out.mime, 'image/jpeg');
    assert.deepEqual([out.width, out.height], [512, 384]);
    const meta = await sharp(Buffer.from(out.url.split(',')[1]!, 'base64')).metadata();
    assert.deepEqual([meta.width, meta.height], [512, 384]);
    assert.equal(meta.exif, undefined, 'metadata is stripped');
    assert.ok(out.bytes < src.length / 4, `${out.bytes} vs ${src.length}`);
  });

  it('applies the EXIF orientation before sizing', async () => {
    const out = await processBytes(await photoBytes({ width: 1200, height: 900, orientation: 6 }), 'high');
    assert.deepEqual([out.width, out.height], [768, 1024]);
  });

  it('converts TIFF to JPEG and BMP to JPEG', async () => {
    const tiff = await processBytes(await photoBytes({ width: 300, height: 200, format: 'tiff' }), 'high');
    assert.equal(tiff.mime, 'image/jpeg');
    assert.deepEqual([tiff.width, tiff.height], [300, 200]);
    const bmp = await processBytes(bmpBytes(40, 30), 'low');
    assert.equal(bmp.mime, 'image/jpeg');
    assert.deepEqual([bmp.width, bmp.height], [40, 30]);
  });

  it('rejects bytes that are no image with the usual reason', async () => {
    await assert.rejects(processBytes(Buffer.from('hello world, not an image at all'), 'low'), /not an image/);
  });

  it("the rate limiter's estimate uses the size actually sent", async () => {
    const out = await processBytes(await photoBytes({ width: 4000, height: 3000 }), 'high');
    const body = { model: 'm', input: [{ type: 'message', role: 'user', content: [{ type: 'input_image', image_url: out.url, detail: 'high' }] }] };
    const withImage = estimateRequestTokens(body, {}).input;
    const without = estimateRequestTokens({ ...body, input: [{ type: 'message', role: 'user', content: [] }] }, {}).input;
    assert.equal(withImage - without, imageTokens('high', { width: 1024, height: 768 }));
  });
});
