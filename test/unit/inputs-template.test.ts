import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderTemplate, templateFields } from '../../src/inputs/template.js';

describe('templateFields', () => {
  it('lists distinct names in order of first appearance', () => {
    assert.deepEqual(templateFields('{{b}} {{a}} {{ b }} {{c}}'), ['b', 'a', 'c']);
  });

  it('trims spaces inside the braces but keeps inner spaces of a name', () => {
    assert.deepEqual(templateFields('{{  product name  }}'), ['product name']);
  });

  it('ignores empty braces and text without placeholders', () => {
    assert.deepEqual(templateFields('no fields {{}} {{ }} here'), []);
  });
});

describe('renderTemplate', () => {
  it('fills placeholders, with or without spaces inside the braces', () => {
    assert.deepEqual(renderTemplate('Review ({{lang}}): {{ text }}', { lang: 'fr', text: 'Très bien 👍' }), {
      ok: true,
      text: 'Review (fr): Très bien 👍',
    });
  });

  it('inserts values as they are: no escaping, no $-pattern expansion', () => {
    const result = renderTemplate('{{v}}', { v: '<b>$& $1 {{x}} "q"</b>' });
    assert.deepEqual(result, { ok: true, text: '<b>$& $1 {{x}} "q"</b>' });
  });

  it('names every missing field and renders nothing', () => {
    assert.deepEqual(renderTemplate('{{a}} {{b}} {{c}} {{b}}', { a: 'x' }), { ok: false, missing: ['b', 'c'] });
  });

  it('treats an empty string as present', () => {
    assert.deepEqual(renderTemplate('[{{a}}]', { a: '' }), { ok: true, text: '[]' });
  });

  it('JSON-stringifies objects and arrays, stringifies numbers and booleans, and renders null as empty', () => {
    const fields = { obj: { a: 1, b: [2, 'x'] }, arr: [1, 2], n: 4.5, t: true, nil: null };
    assert.deepEqual(renderTemplate('{{obj}}|{{arr}}|{{n}}|{{t}}|{{nil}}', fields), {
      ok: true,
      text: '{"a":1,"b":[2,"x"]}|[1,2]|4.5|true|',
    });
  });

  it('does not take inherited properties for fields', () => {
    assert.deepEqual(renderTemplate('{{toString}}', {}), { ok: false, missing: ['toString'] });
  });

  it('returns a template without placeholders unchanged', () => {
    assert.deepEqual(renderTemplate('Describe this image.', {}), { ok: true, text: 'Describe this image.' });
  });
});
