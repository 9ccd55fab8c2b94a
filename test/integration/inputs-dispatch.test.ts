import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ReadOutcome } from '../../src/core/item.js';
import { readInputs } from '../../src/inputs/index.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function describeOutcome(o: ReadOutcome): string {
  if (o.type === 'rejected') return `rejected ${o.rejection.customId}`;
  return `${o.item.request.kind} ${o.item.customId}`;
}

describe('readInputs dispatch', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'respool-dispatch-'));
    await mkdir(path.join(dir, 'data'));
    await writeFile(path.join(dir, 'data/b.CSV'), 'prompt\nfrom csv\n');
    await writeFile(path.join(dir, 'data/a.NDJSON'), '{"prompt":"from ndjson"}\n');
    await writeFile(path.join(dir, 'data/c.jsonl'), '{"custom_id":"j","input":"from jsonl"}\n');
    await copyFile(path.join(REPO, 'test/fixtures/images/ok.png'), path.join(dir, 'data/d.png'));
    await writeFile(path.join(dir, 'data/.hidden.csv'), 'prompt\nhidden\n');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('dispatches pattern matches by extension, case-insensitively, in sorted order', async () => {
    const outcomes: string[] = [];
    for await (const o of readInputs(['data/*'], { cwd: dir })) outcomes.push(describeOutcome(o));
    assert.deepEqual(outcomes, ['prompt a.NDJSON:1', 'prompt b.CSV:2', 'input j', 'prompt d.png']);
  });

  it('reads inputs in the order given and reports each unmatched one in place', async () => {
    const outcomes: string[] = [];
    for await (const o of readInputs(['data/c.jsonl', 'missing.csv', 'data/b.CSV'], { cwd: dir })) outcomes.push(describeOutcome(o));
    assert.deepEqual(outcomes, ['input j', 'rejected missing.csv', 'prompt b.CSV:2']);
  });

  it('reports an empty folder as matching nothing', async () => {
    await mkdir(path.join(dir, 'empty'));
    const outcomes: ReadOutcome[] = [];
    for await (const o of readInputs(['empty'], { cwd: dir })) outcomes.push(o);
    assert.equal(outcomes.length, 1);
    assert.match((outcomes[0] as { rejection: { reason: string } }).rejection.reason, /nothing matched "empty": the folder has no files/);
  });

  it('is lazy: nothing is read before the first outcome is asked for', async () => {
    const generator = readInputs(['does-not-exist-yet.csv'], { cwd: dir });
    await writeFile(path.join(dir, 'does-not-exist-yet.csv'), 'prompt\ncreated after the call\n');
    const first = await generator.next();
    assert.equal(first.done, false);
    assert.equal(describeOutcome(first.value as ReadOutcome), 'prompt does-not-exist-yet.csv:2');
  });
});
