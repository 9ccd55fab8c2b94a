import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contentKey, imageKey, recordsContent } from '../../src/queue/content-key.js';
import { dateIn, datedOut, datedRunName, isDate, isTimeZone } from '../../src/schedule/dates.js';
import { datedConfig } from '../../src/schedule/dated-run.js';
import { resolveConfig } from '../../src/config/load.js';
import { buildSummary } from '../../src/report/dated-run-summary.js';
import { addLine, emptyTotals } from '../../src/report/line-totals.js';
import { orientedSize, targetSize, needsDownscale } from '../../src/worker/images/target-size.js';
import { imageTiles } from '../../src/cost/image-tokens.js';
import type { OutputLine } from '../../src/core/output-line.js';

describe('target size per detail', () => {
  it('low fits within 512x512, keeping the aspect ratio', () => {
    assert.deepEqual(targetSize({ width: 4000, height: 3000 }, 'low'), { width: 512, height: 384 });
    assert.deepEqual(targetSize({ width: 3000, height: 4000 }, 'low'), { width: 384, height: 512 });
    assert.deepEqual(targetSize({ width: 1000, height: 100 }, 'low'), { width: 512, height: 51 });
  });
  it('high fits within 2048x2048, then the short side to 768', () => {
    assert.deepEqual(targetSize({ width: 4000, height: 3000 }, 'high'), { width: 1024, height: 768 });
    assert.deepEqual(targetSize({ width: 4096, height: 1024 }, 'high'), { width: 2048, height: 512 });
    assert.deepEqual(targetSize({ width: 1600, height: 1600 }, 'high'), { width: 768, height: 768 });
  });
  it('auto is counted like high', () => {
    assert.deepEqual(targetSize({ width: 4000, height: 3000 }, 'auto'), targetSize({ width: 4000, height: 3000 }, 'high'));
  });
  it('never scales up', () => {
    assert.deepEqual(targetSize({ width: 300, height: 200 }, 'high'), { width: 300, height: 200 });
    assert.deepEqual(targetSize({ width: 300, height: 200 }, 'low'), { width: 300, height: 200 });
    assert.equal(needsDownscale({ width: 300, height: 200 }, 'low'), false);
    assert.equal(needsDownscale({ width: 513, height: 200 }, 'low'), true);
  });
  it('a downscaled high-detail image is billed for the same tiles as the original', () => {
    for (const size of [{ width: 4000, height: 3000 }, { width: 5000, height: 1000 }, { width: 900, height: 2600 }]) {
      const t = targetSize(size, 'high');
      assert.equal(imageTiles(t.width, t.height), imageTiles(size.width, size.height), JSON.stringify(size));
    }
  });
  it('EXIF orientations 5-8 swap width and height', () => {
    assert.deepEqual(orientedSize({ width: 4000, height: 3000 }, 6), { width: 3000, height: 4000 });
    assert.deepEqual(orientedSize({ width: 4000, height: 3000 }, 3), { width: 4000, height: 3000 });
    assert.deepEqual(orientedSize({ width: 4000, height: 3000 }, undefined), { width: 4000, height: 3000 });
  });
});

describe('dated run names and files', () => {
  it('the date is the day in the schedule time zone', () => {
    const ms = Date.parse('2026-11-30T23:30:00Z');
    assert.equal(dateIn(ms, 'UTC'), '2026-11-30');
    assert.equal(dateIn(ms, 'Europe/Berlin'), '2026-12-01');
    assert.equal(dateIn(ms, 'America/New_York'), '2026-11-30');
  });
  it('names the run and fills in {date}', () => {
    assert.equal(datedRunName('captions', '2026-12-01'), 'captions-2026-12-01');
    assert.equal(datedOut('out/captions-{date}.jsonl', '2026-12-01'), 'out/captions-2026-12-01.jsonl');
    assert.equal(datedOut('out/{date}/{date}.jsonl', '2026-12-01'), 'out/2026-12-01/2026-12-01.jsonl');
    assert.equal(datedOut('out/all.jsonl', '2026-12-01'), 'out/all.jsonl');
    assert.throws(() => datedRunName('x'.repeat(60), '2026-12-01'), /too long/);
  });
  it('datedConfig changes name and out only', () => {
    const config = resolveConfig([{ origin: 'test', values: { name: 'captions', inputs: ['a'], model: 'm', out: 'out/c-{date}.jsonl', incremental: true } }]);
    const dated = datedConfig(config, '2026-12-01');
    assert.equal(dated.name, 'captions-2026-12-01');
    assert.equal(dated.out, 'out/c-2026-12-01.jsonl');
    assert.deepEqual({ ...dated, name: config.name, out: config.out }, config);
  });
  it('checks dates and time zones', () => {
    assert.ok(isDate('2026-02-28'));
    assert.ok(!isDate('2026-02-30'));
    assert.ok(!isDate('26-02-01'));
    assert.ok(isTimeZone('Europe/Berlin'));
    assert.ok(!isTimeZone('Mars/Olympus'));
  });
});

describe('incremental content keys', () => {
  const prompt = (text: string) => ({ kind: 'prompt' as const, text, images: [] });
  const h1 = 'a'.repeat(64);
  const h2 = 'b'.repeat(64);
  it('one image: its hash, whatever the prompt or path (a renamed file keeps its key)', () => {
    assert.equal(contentKey({ ...prompt('caption x.jpg'), images: [{ kind: 'file', path: '/x.jpg' }] }, [h1]), h1);
    assert.equal(contentKey({ ...prompt('caption y.jpg'), images: [{ kind: 'file', path: '/y.jpg' }] }, [h1]), h1);
  });
  it('several images: a key of their hashes in order', () => {
    const ab = contentKey(prompt('p'), [h1, h2]);
    assert.notEqual(ab, contentKey(prompt('p'), [h2, h1]));
    assert.notEqual(ab, h1);
    assert.equal(ab, contentKey(prompt('q'), [h1, h2]));
  });
  it('no images: the request text, so a changed prompt is a new item', () => {
    assert.notEqual(contentKey(prompt('a'), []), contentKey(prompt('b'), []));
    assert.equal(contentKey(prompt('a'), []), contentKey(prompt('a'), []));
  });
  it('URLs are keyed by their text', () => {
    assert.notEqual(imageKey({ kind: 'url', url: 'https://a/1.png' }, null), imageKey({ kind: 'url', url: 'https://a/2.png' }, null));
    assert.equal(imageKey({ kind: 'file', path: '/a' }, h1), h1);
  });
  it('only completed lines record their content: failures are sent again next run', () => {
    assert.equal(recordsContent('completed'), true);
    for (const s of ['failed', 'rejected', 'incomplete']) assert.equal(recordsContent(s), false, s);
  });
});

describe('run summary', () => {
  const line = (status: OutputLine['status'], extra: Record<string, unknown> = {}): OutputLine =>
    ({ custom_id: 'x', status, model: 'm', output_text: null, usage: { input_tokens: 10, output_tokens: 5, total_tokens: 15 }, response_id: null, attempts: 1, latency_ms: 1, source: { path: 'x' }, run: 'r', finished_at: '', ...extra }) as OutputLine;
  const meta = { job: 'c', run: 'c-2026-12-01', date: '2026-12-01', out: '/o', outcome: 'complete' as const, skipped_unchanged: 3, started_at: 's', finished_at: 'f' };
  it('counts items and failures, and has no cost when no line has one', () => {
    const t = [line('completed'), line('failed'), line('rejected', { usage: null })].reduce(addLine, emptyTotals());
    const s = buildSummary(t, meta);
    assert.equal(s.items, 3);
    assert.equal(s.failures, 2);
    assert.equal(s.skipped_unchanged, 3);
    assert.equal(s.tokens.total, 30);
    assert.equal(s.cost, null);
  });
  it('sums cost.total when lines carry it; a null cost counts nothing', () => {
    const t = [line('completed', { cost: { total: 0.1, currency: 'USD' } }), line('completed', { cost: { total: 0.2 } }), line('completed', { cost: null })].reduce(addLine, emptyTotals());
    assert.deepEqual(buildSummary(t, meta).cost, { total: 0.3 });
  });
});
