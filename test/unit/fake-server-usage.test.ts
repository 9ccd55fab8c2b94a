import { test } from 'node:test';
import assert from 'node:assert/strict';
import { digestInput } from '../../src/fake-server/input.js';
import { buildUsage, imageTiles, imageTokens, inputTokens, REASONING_TOKENS, textTokens } from '../../src/fake-server/usage.js';
import { pngHeaderUri } from '../helpers/png.js';

test('tiles follow the fit-2048 then short-side-768 rule', () => {
  assert.equal(imageTiles(1024, 1024), 4); // -> 768x768
  assert.equal(imageTiles(2048, 4096), 6); // -> 1024x2048 -> 768x1536
  assert.equal(imageTiles(4096, 8192), 6);
  assert.equal(imageTiles(3000, 1500), 6); // -> 2048x1024 -> 1536x768
  assert.equal(imageTiles(512, 512), 1);
  assert.equal(imageTiles(513, 512), 2);
  assert.equal(imageTiles(100, 100), 1); // small images are not scaled up
  assert.equal(imageTiles(768, 768), 4);
  assert.equal(imageTiles(1, 5000), 4); // -> 0x2048 is clamped to one column
});

test('image tokens by detail', () => {
  assert.equal(imageTokens('low', { width: 4096, height: 4096 }), 85);
  assert.equal(imageTokens('high', { width: 1024, height: 1024 }), 765);
  assert.equal(imageTokens('auto', { width: 2048, height: 4096 }), 1105);
  assert.equal(imageTokens(null, { width: 512, height: 512 }), 255);
  assert.equal(imageTokens(null, null), 765);
});

test('text tokens are ceil(chars / 4)', () => {
  assert.equal(textTokens(0), 0);
  assert.equal(textTokens(1), 1);
  assert.equal(textTokens(4), 1);
  assert.equal(textTokens(5), 2);
});

test('input tokens count instructions, every text part and every image', () => {
  const digest = digestInput('abcd', [
    { type: 'message', role: 'system', content: 'abcdefgh' },
    {
      type: 'message',
      role: 'user',
      content: [
        { type: 'input_text', text: 'abcd' },
        { type: 'input_image', image_url: pngHeaderUri(512, 512) },
        { type: 'input_image', image_url: pngHeaderUri(4096, 4096), detail: 'low' },
        { type: 'input_image', image_url: 'https://example.com/a.png', detail: 'high' },
      ],
    },
  ]);
  assert.equal(digest.chars, 16);
  assert.equal(digest.lastUserText, 'abcd');
  assert.equal(inputTokens(digest), 4 + 255 + 85 + 765);
});

test('an empty input still costs one token', () => {
  assert.equal(inputTokens(digestInput(null, '')), 1);
});

test('the last user message wins, and its text parts are joined', () => {
  const d = digestInput(undefined, [
    { type: 'message', role: 'user', content: 'first' },
    { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'reply' }] },
    { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'a' }, { type: 'input_text', text: 'b' }] },
  ]);
  assert.equal(d.lastUserText, 'a\nb');
  assert.equal(d.chars, 5 + 5 + 2);
});

test('usage has all five keys and a consistent total', () => {
  const u = buildUsage(10, 9);
  assert.deepEqual(u, {
    input_tokens: 10,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 3 + REASONING_TOKENS,
    output_tokens_details: { reasoning_tokens: REASONING_TOKENS },
    total_tokens: 10 + 3 + REASONING_TOKENS,
  });
});
