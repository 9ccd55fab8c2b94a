import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchFilePacker, batchInputLine, ItemTooLargeForBatchError, lineBytes, packBatchFiles, type PackItem } from '../../src/batch/pack.js';

function item(i: number, text = `item ${i}`): PackItem {
  return { customId: `job-${i}`, body: { model: 'm', input: text } };
}

describe('batch input lines', () => {
  test('a line is the provider input shape: custom_id, POST, /v1/responses, the body as is', () => {
    const body = { model: 'm', input: [{ type: 'message', role: 'user', content: 'hi' }], text: { format: { type: 'text' } } };
    assert.deepEqual(JSON.parse(batchInputLine({ customId: 'abc', body })), { custom_id: 'abc', method: 'POST', url: '/v1/responses', body });
  });

  test('bytes are UTF-8 bytes plus the newline, not characters', () => {
    assert.equal(lineBytes('abc'), 4);
    assert.equal(lineBytes('é'), 3);
    assert.equal(lineBytes('😀'), 5);
  });
});

describe('packing', () => {
  test('files hold at most maxRequests lines, in the order given, each custom_id once', () => {
    const items = Array.from({ length: 25 }, (_, i) => item(i));
    const { files, tooLarge } = packBatchFiles(items, { maxRequests: 10, maxBytes: 1_000_000 });
    assert.deepEqual(files.map((f) => f.lines.length), [10, 10, 5]);
    assert.deepEqual(files.flatMap((f) => f.customIds), items.map((i) => i.customId));
    assert.equal(tooLarge.length, 0);
  });

  test('a file never goes over maxBytes, and its bytes are exactly its lines and newlines', () => {
    // Multi-byte text, so that counting characters instead of bytes would overflow.
    const items = Array.from({ length: 60 }, (_, i) => item(i, `é😀 ${'ü'.repeat(i % 7)}`));
    const oneLine = lineBytes(batchInputLine(items[0]!));
    const maxBytes = oneLine * 4 + 10;
    const { files } = packBatchFiles(items, { maxRequests: 1000, maxBytes });
    for (const f of files) {
      const actual = Buffer.byteLength(f.lines.map((l) => `${l}\n`).join(''));
      assert.equal(f.bytes, actual);
      assert.ok(f.bytes <= maxBytes, `${f.bytes} > ${maxBytes}`);
    }
    assert.equal(files.reduce((n, f) => n + f.lines.length, 0), 60);
    // Packed tightly: no file but the last could have taken the next line.
    for (let i = 0; i + 1 < files.length; i++) {
      assert.ok(files[i]!.bytes + lineBytes(files[i + 1]!.lines[0]!) > maxBytes, `file ${i} had room for one more line`);
    }
  });

  test('a line exactly filling maxBytes fits; one byte more does not', () => {
    const one = item(1, 'a longer text than the others have');
    const bytes = lineBytes(batchInputLine(one));
    assert.equal(packBatchFiles([one], { maxRequests: 1, maxBytes: bytes }).files.length, 1);
    const { files, tooLarge } = packBatchFiles([item(0), one, item(2)], { maxRequests: 5, maxBytes: bytes - 1 });
    assert.deepEqual(tooLarge.map((e) => e.customId), ['job-1'], 'the oversized item is handed back, not lost');
    assert.deepEqual(files.flatMap((f) => f.customIds), ['job-0', 'job-2']);
    assert.equal(tooLarge[0]!.bytes, bytes);
  });

  test('the streaming packer hands back each file as it closes and the rest on finish', () => {
    const packer = new BatchFilePacker({ maxRequests: 2, maxBytes: 1_000_000 });
    assert.equal(packer.add(item(0)), null);
    assert.equal(packer.add(item(1)), null);
    assert.deepEqual(packer.add(item(2))?.customIds, ['job-0', 'job-1']);
    assert.deepEqual(packer.finish()?.customIds, ['job-2']);
    assert.equal(packer.finish(), null, 'nothing left after finish');
    assert.throws(() => new BatchFilePacker({ maxRequests: 2, maxBytes: 10 }).add(item(0)), ItemTooLargeForBatchError);
  });

  test('no items, no files; bad limits are refused', () => {
    assert.deepEqual(packBatchFiles([], { maxRequests: 5, maxBytes: 100 }).files, []);
    assert.throws(() => new BatchFilePacker({ maxRequests: 0, maxBytes: 100 }), RangeError);
    assert.throws(() => new BatchFilePacker({ maxRequests: 5, maxBytes: 1.5 }), RangeError);
  });
});
