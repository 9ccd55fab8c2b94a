import assert from 'node:assert/strict';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import type { OutputLine } from '../../src/core/output-line.js';
import type { FakeServer } from '../../src/fake-server/index.js';
import { ROOT, countIds, readLines, runCli, testPrefix } from '../helpers/cli.js';
import { withFakeServer } from '../helpers/fake-suite.js';

const PNG = path.join(ROOT, 'test/fixtures/images/ok.png');

function byId(lines: OutputLine[]): Map<string, OutputLine> {
  return new Map(lines.map((l) => [l.custom_id, l]));
}

function jsonl(values: unknown[]): string {
  return values.map((v) => JSON.stringify(v)).join('\n') + '\n';
}

/**
 * Inputs as users already have them, through the real CLI, real Redis and the fake server over real
 * HTTP: OpenAI batch files without --model, files that are not UTF-8, folders with non-image files,
 * oversized items and empty files. The fake server checks every body against the OpenResponses spec
 * (a body that does not follow it gets a 400, which would end as a failed line).
 */
describe('respool run: inputs as users have them', () => {
  let fake: FakeServer;
  const prefix = testPrefix();
  let dir: string;

  withFakeServer(prefix, (s) => ({ fake, dir } = s));

  const run = (name: string, args: string[]) =>
    runCli(['--prefix', prefix, 'run', '--name', name, '--base-url', fake.url, '--out', path.join(dir, 'out', `${name}.jsonl`), ...args], { cwd: dir });
  const results = async (name: string) => readLines(path.join(dir, 'out', `${name}.jsonl`));

  before(async () => {
    const pngDataUrl = `data:image/png;base64,${(await import('node:fs')).readFileSync(PNG).toString('base64')}`;
    await writeFile(
      path.join(dir, 'responses-batch.jsonl'),
      jsonl([
        { custom_id: 'r1', method: 'POST', url: '/v1/responses', body: { model: 'model-a', input: 'Say hello.' } },
        { custom_id: 'r2', method: 'POST', url: '/v1/responses', body: { model: 'model-b', input: 'Say goodbye.', max_output_tokens: 64 } },
        { custom_id: 'r3', method: 'POST', url: '/v1/responses', body: { input: 'No model here.' } },
      ]),
    );
    const schema = { type: 'object', properties: { label: { type: 'string' } }, required: ['label'], additionalProperties: false };
    await writeFile(
      path.join(dir, 'chat-batch.jsonl'),
      jsonl([
        {
          custom_id: 'c1',
          method: 'POST',
          url: '/v1/chat/completions',
          body: { model: 'chat-model', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello there' }], max_tokens: 5, temperature: 0, seed: 1 },
        },
        {
          custom_id: 'c2',
          method: 'POST',
          url: '/v1/chat/completions',
          body: {
            model: 'vision-model',
            messages: [
              { role: 'user', content: 'First question' },
              { role: 'assistant', content: 'First answer' },
              { role: 'user', content: [{ type: 'text', text: 'Describe this picture' }, { type: 'image_url', image_url: { url: pngDataUrl, detail: 'low' } }] },
            ],
            max_completion_tokens: 200,
          },
        },
        {
          custom_id: 'c3',
          method: 'POST',
          url: '/v1/chat/completions',
          body: { model: 'chat-model', messages: [{ role: 'user', content: 'Label: great product' }], response_format: { type: 'json_schema', json_schema: { name: 'label', schema, strict: true } } },
        },
        { custom_id: 'c4', method: 'POST', url: '/v1/chat/completions', body: { model: 'chat-model', messages: [{ role: 'user', content: 'x' }], n: 2 } },
        { custom_id: 'e1', method: 'POST', url: '/v1/embeddings', body: { model: 'text-embedding-3-small', input: 'x' } },
      ]),
    );
    await mkdir(path.join(dir, 'photos/sub'), { recursive: true });
    await copyFile(PNG, path.join(dir, 'photos/a.png'));
    await copyFile(PNG, path.join(dir, 'photos/sub/b.dat')); // a PNG by content, whatever its name
    await writeFile(path.join(dir, 'photos/README.txt'), 'These are the holiday photos.\n');
    await writeFile(path.join(dir, 'photos/sub/notes.md'), '# notes\n');
    await writeFile(path.join(dir, 'photos/broken.jpg'), 'not really a JPEG\n');
    await writeFile(path.join(dir, 'latin1.csv'), Buffer.from('id,text\nl1,plain text\nl2,caf\xe9 cr\xe8me \x80 5\nl3,also plain\n', 'latin1'));
    await writeFile(path.join(dir, 'latin1.jsonl'), Buffer.from('{"custom_id":"j1","prompt":"ok"}\n{"custom_id":"j2","prompt":"na\xefve"}\n', 'latin1'));
    await writeFile(path.join(dir, 'big.csv'), `id,text\nsmall,${'s'.repeat(50)}\nlarge,${'L'.repeat(500)}\n`);
    await writeFile(path.join(dir, 'huge.jsonl'), jsonl([{ custom_id: 'huge', prompt: 'x'.repeat(11 * 1024 * 1024) }, { custom_id: 'fine', prompt: 'short' }]));
    await writeFile(path.join(dir, 'empty.csv'), '');
    await writeFile(path.join(dir, 'header-only.csv'), 'id,text\n');
    await writeFile(path.join(dir, 'blank.jsonl'), '\n\n');
    await writeFile(path.join(dir, 'one.csv'), 'id,text\none,hello\n');
  });

  it('a /v1/responses batch file without --model: each body is sent with its own model', async () => {
    fake.reset();
    const res = await run('responses-batch', ['--input', 'responses-batch.jsonl']);
    assert.equal(res.code, 0, res.stderr);
    const lines = byId(await results('responses-batch'));
    assert.equal(lines.get('r1')?.status, 'completed', JSON.stringify(lines.get('r1')));
    // The fake server answers with the model of the request it got.
    assert.equal(lines.get('r1')?.model, 'model-a');
    assert.equal(lines.get('r2')?.model, 'model-b');
    assert.equal(lines.get('r3')?.status, 'rejected');
    assert.match(lines.get('r3')?.error?.message ?? '', /^responses-batch\.jsonl:3: the request body names no model and the run has none/);
    assert.equal(fake.stats().requests, 2);
    assert.equal(fake.stats().byStatus['400'] ?? 0, 0);
    assert.match(res.stderr, /run responses-batch: models named by the input lines/);
    assert.match(res.stderr, /inputs of responses-batch: models model-a \(1\), model-b \(1\)/);
  });

  it('a /v1/responses batch file with --model: the start line does not claim that model for every call', async () => {
    const res = await run('responses-batch-m', ['--input', 'responses-batch.jsonl', '--model', 'flag-model']);
    assert.equal(res.code, 0, res.stderr);
    const lines = byId(await results('responses-batch-m'));
    assert.equal(lines.get('r1')?.model, 'model-a');
    assert.equal(lines.get('r3')?.model, 'flag-model');
    assert.match(res.stderr, /model flag-model \(batch request lines naming a model use theirs\)/);
    assert.match(res.stderr, /models flag-model \(1\), model-a \(1\), model-b \(1\)/);
  });

  it('a CSV without --model is still a settings error naming the field', async () => {
    const res = await run('csv-no-model', ['--input', 'one.csv']);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /model: is required \(one\.csv is not JSONL/);
  });

  it('a /v1/chat/completions batch file is converted to spec-valid Responses requests; what cannot be converted is rejected', async () => {
    fake.reset();
    const res = await run('chat-batch', ['--input', 'chat-batch.jsonl']);
    assert.equal(res.code, 0, res.stderr);
    const all = await results('chat-batch');
    assert.equal(all.length, countIds(all).size, 'one line per custom_id');
    const lines = byId(all);
    for (const id of ['c1', 'c2', 'c3']) assert.equal(lines.get(id)?.status, 'completed', `${id}: ${JSON.stringify(lines.get(id))}`);
    assert.equal(fake.stats().byStatus['400'] ?? 0, 0, 'every converted body passed the spec validation');
    assert.equal(fake.stats().requests, 3);
    assert.equal(lines.get('c1')?.model, 'chat-model');
    assert.equal(lines.get('c1')?.output_text, 'Echo: Hello there');
    assert.equal(lines.get('c2')?.model, 'vision-model');
    assert.equal(lines.get('c2')?.output_text, 'Echo: Describe this picture');
    // The image part arrived as an input_image with its detail.
    assert.deepEqual(fake.stats().images.map((i) => i.detail), ['low']);
    // The json_schema format arrived flat in text.format: the answer is JSON of that schema.
    assert.equal(typeof (lines.get('c3')?.parsed as { label?: unknown } | null)?.label, 'string', JSON.stringify(lines.get('c3')));
    assert.equal(lines.get('c4')?.status, 'rejected');
    assert.match(lines.get('c4')?.error?.message ?? '', /^chat-batch\.jsonl:4: batch-style request line: cannot convert this \/v1\/chat\/completions request: n must be 1/);
    assert.equal(lines.get('e1')?.status, 'rejected');
    assert.match(lines.get('e1')?.error?.message ?? '', /^chat-batch\.jsonl:5: .*embeddings are not supported/);
  });

  it('an image folder: files that are not images by name nor content are skipped and counted, not rejected', async () => {
    fake.reset();
    const res = await run('photos', ['--input', 'photos', '--model', 'm']);
    assert.equal(res.code, 0, res.stderr);
    const lines = byId(await results('photos'));
    assert.deepEqual([...lines.keys()].sort(), ['a.png', 'broken.jpg', 'sub/b.dat']);
    assert.equal(lines.get('a.png')?.status, 'completed');
    assert.equal(lines.get('sub/b.dat')?.status, 'completed');
    // Named like an image: the user meant it as one, so it is rejected with its reason.
    assert.equal(lines.get('broken.jpg')?.status, 'rejected');
    assert.match(res.stderr, /skipped 2 files that are not images/);
  });

  it('a glob over a folder skips them too; a non-image file named on its own is still rejected', async () => {
    const globbed = await run('photos-glob', ['--input', 'photos/**/*', '--model', 'm']);
    assert.equal(globbed.code, 0, globbed.stderr);
    assert.deepEqual([...byId(await results('photos-glob')).keys()].sort(), ['a.png', 'broken.jpg', 'sub/b.dat']);
    assert.match(globbed.stderr, /skipped 2 files that are not images/);

    const named = await run('readme', ['--input', 'photos/README.txt', '--model', 'm']);
    assert.equal(named.code, 0, named.stderr);
    const lines = await results('readme');
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.status, 'rejected');
    assert.match(lines[0]?.error?.message ?? '', /photos\/README\.txt: not an image/);
  });

  it('Latin-1 CSV and JSONL: lines that are not valid UTF-8 are rejected naming file and line, the rest is sent', async () => {
    fake.reset();
    const res = await run('latin1-default', ['--input', 'latin1.csv', '--input', 'latin1.jsonl', '--model', 'm', '--prompt', '{{text}}']);
    assert.equal(res.code, 0, res.stderr);
    const lines = byId(await results('latin1-default'));
    assert.equal(lines.get('l1')?.status, 'completed');
    assert.equal(lines.get('l3')?.status, 'completed');
    assert.equal(lines.get('l2')?.status, 'rejected', JSON.stringify(lines.get('l2')));
    assert.match(lines.get('l2')?.error?.message ?? '', /^latin1\.csv:3: the line is not valid UTF-8 \(set `encoding`/);
    assert.equal(lines.get('latin1.jsonl:2')?.status, 'rejected');
    assert.match(lines.get('latin1.jsonl:2')?.error?.message ?? '', /^latin1\.jsonl:2: the line is not valid UTF-8/);
    assert.equal(fake.stats().requests, 2, 'nothing with replacement characters was sent');
  });

  it('with encoding latin1 the same files are read as they were written, and the right characters arrive', async () => {
    const job = path.join(dir, 'latin1-job.yaml');
    await writeFile(job, 'inputs: [latin1.csv]\nmodel: m\nprompt: "{{text}}"\nencoding: latin1\n');
    const res = await run('latin1-job', [job]);
    assert.equal(res.code, 0, res.stderr);
    const lines = byId(await results('latin1-job'));
    assert.equal(lines.get('l2')?.status, 'completed', JSON.stringify(lines.get('l2')));
    assert.equal(lines.get('l2')?.output_text, 'Echo: café crème € 5');

    const flag = await run('latin1-flag', ['--input', 'latin1.jsonl', '--model', 'm', '--encoding', 'latin1']);
    assert.equal(flag.code, 0, flag.stderr);
    assert.equal(byId(await results('latin1-flag')).get('j2')?.output_text, 'Echo: naïve');
  });

  it('an item over max_item_bytes is rejected with its size, naming file and line', async () => {
    fake.reset();
    const res = await run('big', ['--input', 'big.csv', '--model', 'm', '--prompt', '{{text}}', '--max-item-bytes', '100']);
    assert.equal(res.code, 0, res.stderr);
    const lines = byId(await results('big'));
    assert.equal(lines.get('small')?.status, 'completed');
    assert.equal(lines.get('large')?.status, 'rejected');
    assert.equal(lines.get('large')?.error?.message, 'big.csv:3: the item is 500 bytes of text, over the limit of 100 bytes (max_item_bytes)');
    assert.equal(fake.stats().requests, 1);
  });

  it('by default an 11 MiB prompt is rejected, not queued and sent', async () => {
    fake.reset();
    const res = await run('huge', ['--input', 'huge.jsonl', '--model', 'm']);
    assert.equal(res.code, 0, res.stderr);
    const lines = byId(await results('huge'));
    assert.equal(lines.get('fine')?.status, 'completed');
    assert.equal(lines.get('huge')?.status, 'rejected');
    assert.match(lines.get('huge')?.error?.message ?? '', /^huge\.jsonl:1: the item is 11534336 bytes of text, over the limit of 10485760 bytes/);
    assert.equal(fake.stats().requests, 1);
  });

  it('empty input files are warned about by name and counted', async () => {
    const res = await run('empties', ['--input', 'empty.csv', '--input', 'header-only.csv', '--input', 'blank.jsonl', '--input', 'one.csv', '--model', 'm', '--prompt', '{{text}}']);
    assert.equal(res.code, 0, res.stderr);
    assert.equal((await results('empties')).length, 1);
    for (const file of ['empty.csv', 'header-only.csv', 'blank.jsonl']) assert.match(res.stderr, new RegExp(`${file.replace('.', '\\.')} has no items`));
    assert.match(res.stderr, /3 empty files \(empty\.csv, header-only\.csv, blank\.jsonl\)/);
  });
});
