import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULTS } from '../../src/config/defaults.js';
import { estimateRequestTokens, estimateTextTokens, utf8ByteLength } from '../../src/cost/token-estimate.js';
import { imageTiles, imageTokens, MAX_IMAGE_TOKENS } from '../../src/cost/image-tokens.js';
import { pngHeaderUri } from '../helpers/png.js';
// The fake server is imported by this test only, as the reference the estimate must never fall below.
import { createRng } from '../../src/fake-server/faults.js';
import { digestInput } from '../../src/fake-server/input.js';
import * as fakeUsage from '../../src/fake-server/usage.js';

const fixture = (rel: string): Buffer => readFileSync(fileURLToPath(new URL(`../../fixtures/images/${rel}`, import.meta.url)));
const dataUri = (mime: string, bytes: Buffer): string => `data:${mime};base64,${bytes.toString('base64')}`;

const gradientPng = dataUri('image/png', fixture('gradient.png')); // 64x48
const circlePng = dataUri('image/png', fixture('shapes/circle.png')); // 64x48
const checkerJpeg = dataUri('image/jpeg', fixture('shapes/checkerboard.jpg')); // 64x48
const sunsetPng = dataUri('image/png', fixture('nested/deeper/sunset.PNG')); // 64x48


/** Code units drawn from every UTF-8 length class, including surrogate pairs and lone surrogates. */
function randomText(rand: () => number, maxLen: number): string {
  const ranges: [number, number][] = [
    [0x20, 0x7e], // ASCII: 1 byte
    [0xa0, 0x7ff], // Latin, Greek, Cyrillic, Hebrew...: 2 bytes
    [0x4e00, 0x9fff], // CJK: 3 bytes
    [0x1f300, 0x1faff], // emoji: a surrogate pair, 4 bytes
    [0xd800, 0xdfff], // a lone surrogate: encoded as U+FFFD, 3 bytes
    [0xe000, 0xffff], // the rest of the BMP: 3 bytes
  ];
  const len = Math.floor(rand() * maxLen);
  let s = '';
  for (let i = 0; i < len; i++) {
    const [lo, hi] = ranges[Math.floor(rand() * ranges.length)]!;
    const cp = lo + Math.floor(rand() * (hi - lo + 1));
    s += cp >= 0xd800 && cp <= 0xdfff ? String.fromCharCode(cp) : String.fromCodePoint(cp);
  }
  return s;
}

/** input_tokens as the fake server would report them for this body. */
function fakeInputTokens(body: Record<string, unknown>): number {
  return fakeUsage.inputTokens(digestInput(body['instructions'], body['input']));
}

test('UTF-8 byte length matches Buffer.byteLength for ASCII, CJK, emoji and broken surrogates', () => {
  const fixed = ['', 'a', 'hello world', 'é', 'ß€', '日本語のテキスト', '👍', '👨‍👩‍👧', 'a😀b', '\ud800', '\udc00x', 'x\ud83d', '\ud83d\ud83d\ude00'];
  for (const s of fixed) assert.equal(utf8ByteLength(s), Buffer.byteLength(s, 'utf8'), JSON.stringify(s));
  const rand = createRng(42);
  for (let i = 0; i < 2000; i++) {
    const s = randomText(rand, 200);
    assert.equal(utf8ByteLength(s), Buffer.byteLength(s, 'utf8'), JSON.stringify(s));
  }
});

test('text tokens are ceil(UTF-8 bytes / 3)', () => {
  assert.equal(estimateTextTokens(''), 0);
  assert.equal(estimateTextTokens('abc'), 1);
  assert.equal(estimateTextTokens('abcd'), 2);
  assert.equal(estimateTextTokens('x'.repeat(300)), 100);
  assert.equal(estimateTextTokens('日本語'), 3); // 9 bytes: one token per CJK character
  assert.equal(estimateTextTokens('😀'), 2); // 4 bytes
  // English prose: at least the common 4-characters-per-token estimate.
  const prose = 'The quick brown fox jumps over the lazy dog. '.repeat(20);
  assert.ok(estimateTextTokens(prose) >= Math.ceil(prose.length / 4));
});

test('tile rule on known examples', () => {
  assert.equal(imageTokens('high', { width: 1024, height: 1024 }), 765); // -> 768x768, 4 tiles
  assert.equal(imageTokens('high', { width: 2048, height: 4096 }), 1105); // -> 1024x2048 -> 768x1536, 6 tiles
  assert.equal(imageTokens('high', { width: 4096, height: 8192 }), imageTokens('high', { width: 2048, height: 4096 }));
  assert.equal(imageTokens('auto', { width: 2048, height: 4096 }), 1105);
  assert.equal(imageTokens(undefined, { width: 512, height: 512 }), 255);
  assert.equal(imageTokens(null, { width: 100, height: 100 }), 255); // never scaled up
  assert.equal(imageTokens('low', { width: 4096, height: 4096 }), 85);
  assert.equal(imageTokens('low', null), 85);
  assert.equal(imageTiles(3000, 1500), 6); // -> 2048x1024 -> 1536x768
  assert.equal(imageTiles(1, 5000), 4); // the 0px-wide result still takes one column of tiles
});

test('an unknown size costs the most any image can cost', () => {
  assert.equal(MAX_IMAGE_TOKENS, 85 + 170 * 8);
  assert.equal(MAX_IMAGE_TOKENS, 1445);
  assert.equal(imageTokens('high', { width: 2048, height: 768 }), MAX_IMAGE_TOKENS);
  assert.equal(imageTokens('auto', { width: 768, height: 2048 }), MAX_IMAGE_TOKENS);
  assert.equal(imageTokens(null, null), MAX_IMAGE_TOKENS);
  assert.equal(imageTokens('high', { width: 0, height: 10 }), MAX_IMAGE_TOKENS);
  // No size exceeds it.
  const sides = [1, 100, 511, 512, 513, 767, 768, 769, 1000, 1023, 1024, 1025, 1536, 1537, 2047, 2048, 2049, 3000, 4096, 5000, 10000, 65535];
  for (const w of sides) {
    for (const h of sides) assert.ok(imageTokens('high', { width: w, height: h }) <= MAX_IMAGE_TOKENS, `${w}x${h}`);
  }
});

test('image tiles agree with the fake server on many sizes', () => {
  const sizes: [number, number][] = [
    [1, 1], [64, 48], [512, 512], [513, 512], [768, 768], [769, 769], [1024, 1024], [1024, 768], [1536, 768],
    [2048, 768], [2048, 2048], [2048, 4096], [4096, 8192], [3000, 1500], [4032, 3024], [1, 5000], [16383, 1000],
  ];
  const rand = createRng(7);
  for (let i = 0; i < 500; i++) sizes.push([1 + Math.floor(rand() * 10000), 1 + Math.floor(rand() * 10000)]);
  for (const [w, h] of sizes) {
    assert.equal(imageTiles(w, h), fakeUsage.imageTiles(w, h), `${w}x${h}`);
    for (const detail of ['low', 'high', 'auto'] as const) {
      assert.equal(imageTokens(detail, { width: w, height: h }), fakeUsage.imageTokens(detail, { width: w, height: h }), `${detail} ${w}x${h}`);
    }
  }
  assert.ok(MAX_IMAGE_TOKENS >= fakeUsage.UNKNOWN_IMAGE_TOKENS);
});

test('the estimate is never below the fake server input_tokens', () => {
  const bodies: Record<string, unknown>[] = [
    { input: '' },
    { input: 'Summarise this review: great product, arrived late.' },
    { instructions: 'You are a careful classifier. Answer with one word.', input: '日本語のレビュー：とても良い商品でした。😀' },
    {
      instructions: 'Describe each image.',
      input: [
        {
          type: 'message',
          role: 'user',
          content: [
            { type: 'input_text', text: 'What is in these pictures?' },
            { type: 'input_image', image_url: gradientPng, detail: 'auto' },
            { type: 'input_image', image_url: checkerJpeg, detail: 'high' },
            { type: 'input_image', image_url: circlePng, detail: 'low' },
            { type: 'input_image', image_url: sunsetPng },
            { type: 'input_image', image_url: pngHeaderUri(4096, 3072), detail: 'high' },
            { type: 'input_image', image_url: 'https://example.com/cat.jpg', detail: 'high' },
          ],
        },
      ],
    },
    {
      input: [
        { type: 'message', role: 'system', content: 'Be brief.' },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'What is the weather in Zürich?' }] },
        { type: 'function_call', call_id: 'c1', name: 'get_weather', arguments: '{"city":"Zürich"}' },
        { type: 'function_call_output', call_id: 'c1', output: '{"temp_c":21,"sky":"clear"}' },
        {
          type: 'function_call_output',
          call_id: 'c2',
          output: [
            { type: 'input_text', text: 'radar image follows' },
            { type: 'input_image', image_url: gradientPng },
          ],
        },
        { type: 'reasoning', summary: [{ type: 'summary_text', text: 'The user wants the weather; I called the tool.' }] },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'It is 21°C and clear.' }, { type: 'refusal', refusal: 'no' }] },
        { type: 'message', role: 'user', content: 'And tomorrow?' },
      ],
    },
  ];
  const rand = createRng(1234);
  for (let i = 0; i < 200; i++) {
    const content: Record<string, unknown>[] = [{ type: 'input_text', text: randomText(rand, 500) }];
    if (rand() < 0.5) content.push({ type: 'input_image', image_url: [gradientPng, checkerJpeg, circlePng][i % 3], detail: rand() < 0.3 ? 'low' : 'auto' });
    bodies.push({
      instructions: rand() < 0.5 ? randomText(rand, 300) : undefined,
      input: rand() < 0.3 ? randomText(rand, 1000) : [{ type: 'message', role: 'user', content }],
    });
  }
  for (const body of bodies) {
    const estimate = estimateRequestTokens(body);
    const fake = fakeInputTokens(body);
    assert.ok(estimate.input >= fake, `estimate ${estimate.input} < fake ${fake} for ${JSON.stringify(body).slice(0, 200)}`);
  }
});

test('a data-URI image is counted by its pixel size, not by its base64 text', () => {
  const text = { type: 'input_text', text: 'abc' };
  const base = estimateRequestTokens({ input: [{ type: 'message', role: 'user', content: [text] }] }).input;
  const withImage = (image_url: string, detail?: string): number =>
    estimateRequestTokens({ input: [{ type: 'message', role: 'user', content: [text, { type: 'input_image', image_url, detail }] }] }).input - base;
  assert.equal(withImage(gradientPng), 255); // 64x48: one tile
  assert.equal(withImage(checkerJpeg, 'high'), 255);
  assert.equal(withImage(circlePng, 'low'), 85);
  assert.equal(withImage(pngHeaderUri(4096, 8192), 'auto'), 1105);
  assert.equal(withImage('https://example.com/a.png'), MAX_IMAGE_TOKENS);
  assert.equal(withImage('data:image/png;base64,bm90IGFuIGltYWdl'), MAX_IMAGE_TOKENS); // unreadable header
});

test('request and message overheads', () => {
  assert.deepEqual(estimateRequestTokens({}), { input: 3, output: DEFAULTS.expected_output_tokens, total: 3 + DEFAULTS.expected_output_tokens });
  assert.equal(estimateRequestTokens({ input: 'abcdef' }).input, 3 + 4 + 2);
  assert.equal(estimateRequestTokens({ input: [{ type: 'message', role: 'user', content: 'abcdef' }] }).input, 3 + 4 + 2);
  // The short form without `type` is a message too.
  assert.equal(estimateRequestTokens({ input: [{ role: 'user', content: 'abcdef' }, { role: 'user', content: 'abc' }] }).input, 3 + 4 + 2 + 4 + 1);
  // A single item object instead of a list.
  assert.equal(estimateRequestTokens({ input: { type: 'message', role: 'user', content: 'abcdef' } }).input, 3 + 4 + 2);
});

test('instructions are counted', () => {
  const instructions = 'Classify the sentiment as positive, negative or neutral.';
  const without = estimateRequestTokens({ input: 'hi' }).input;
  const withInstr = estimateRequestTokens({ instructions, input: 'hi' }).input;
  assert.equal(withInstr - without, 4 + estimateTextTokens(instructions));
});

test('the JSON schema of structured output is counted', () => {
  const schema = {
    type: 'object',
    properties: { sentiment: { type: 'string', enum: ['positive', 'negative', 'neutral'] }, score: { type: 'number' } },
    required: ['sentiment', 'score'],
    additionalProperties: false,
  };
  const without = estimateRequestTokens({ input: 'hi' }).input;
  const withSchema = estimateRequestTokens({ input: 'hi', text: { format: { type: 'json_schema', name: 's', strict: true, schema } } }).input;
  assert.equal(withSchema - without, Math.ceil(JSON.stringify(schema).length / 3));
  assert.equal(estimateRequestTokens({ input: 'hi', text: { format: { type: 'text' } } }).input, without);
});

test('function calls, their outputs and unknown items are counted', () => {
  const base = estimateRequestTokens({}).input;
  const one = (item: unknown): number => estimateRequestTokens({ input: [item] }).input - base;
  assert.equal(one({ type: 'function_call', call_id: 'c', name: 'abc', arguments: '{"a":1}' }), 4 + 1 + 3);
  assert.equal(one({ type: 'function_call_output', call_id: 'c', output: 'x'.repeat(30) }), 4 + 10);
  assert.equal(one({ type: 'function_call_output', call_id: 'c', output: [{ type: 'input_text', text: 'x'.repeat(30) }] }), 4 + 10);
  const unknown = { type: 'web_search_call', id: 'ws_1', status: 'completed', action: { query: 'respool' } };
  assert.equal(one(unknown), 4 + Math.ceil(JSON.stringify(unknown).length / 3));
  const unknownPart = { type: 'input_audio', data: 'x'.repeat(40) };
  assert.equal(one({ type: 'message', role: 'user', content: [unknownPart] }), 4 + Math.ceil(JSON.stringify(unknownPart).length / 3));
});

test('files are counted from their inline size, or a fixed amount by URL', () => {
  const base = estimateRequestTokens({}).input;
  const file = (part: Record<string, unknown>): number =>
    estimateRequestTokens({ input: [{ type: 'message', role: 'user', content: [{ type: 'input_file', ...part }] }] }).input - base - 4;
  const b64 = Buffer.alloc(3000, 7).toString('base64'); // 4000 characters, 3000 bytes
  assert.equal(file({ file_data: b64 }), 1000);
  assert.equal(file({ file_data: `data:application/pdf;base64,${b64}` }), 1000);
  assert.equal(file({ file_data: b64, filename: 'abc.pdf' }), 1000 + 3);
  assert.equal(file({ file_url: 'https://example.com/report.pdf' }), 1000);
  assert.equal(file({ file_id: 'file_123' }), 1000);
});

test('output is max_output_tokens when set, else the expected output', () => {
  assert.equal(estimateRequestTokens({ input: 'hi', max_output_tokens: 300 }).output, 300);
  assert.equal(estimateRequestTokens({ input: 'hi', max_output_tokens: 300 }, { expectedOutputTokens: 50 }).output, 300);
  assert.equal(estimateRequestTokens({ input: 'hi' }).output, DEFAULTS.expected_output_tokens);
  assert.equal(estimateRequestTokens({ input: 'hi' }, { expectedOutputTokens: 200 }).output, 200);
  for (const bad of [0, -5, null, '300', Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.equal(estimateRequestTokens({ input: 'hi', max_output_tokens: bad }).output, DEFAULTS.expected_output_tokens, String(bad));
  }
  const e = estimateRequestTokens({ instructions: 'abc', input: 'hello', max_output_tokens: 77 });
  assert.equal(e.total, e.input + e.output);
  assert.equal(e.total, 3 + 4 + 1 + 4 + 2 + 77);
});

test('odd shapes give a number, never an exception', () => {
  for (const input of [null, 42, true, [null, 1, 'x', []], [{ type: 'message', content: null }], [{ type: 'message', content: [null, 7, { type: 'input_text', text: 5 }] }]]) {
    const e = estimateRequestTokens({ input, instructions: 7, text: 'x', tools: 'y' });
    assert.ok(Number.isFinite(e.input) && e.input >= 3, JSON.stringify(input));
  }
});
