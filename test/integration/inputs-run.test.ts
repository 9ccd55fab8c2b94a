import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, beforeEach, describe, it } from 'node:test';
import type { FakeServer } from '../../src/fake-server/index.js';
import { ConfigError, type Job, type OutputLine, type Respool } from '../../src/index.js';
import { ROOT, countIds, readLines, runCli, testPrefix } from '../helpers/cli.js';
import { withFakeServer } from '../helpers/fake-suite.js';
import { runJob, withLibrary } from '../helpers/library.js';

const PNG = path.join(ROOT, 'test/fixtures/images/ok.png');

function byId(lines: OutputLine[]): Map<string, OutputLine> {
  return new Map(lines.map((l) => [l.custom_id, l]));
}

function jsonl(values: unknown[]): string {
  return values.map((v) => JSON.stringify(v)).join('\n') + '\n';
}

/** The input files of these tests, in `dir`. */
async function writeInputs(dir: string): Promise<void> {
  const pngDataUrl = `data:image/png;base64,${(await readFile(PNG)).toString('base64')}`;
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
}

/**
 * Inputs as users already have them, in process through the library, real Redis and the fake server
 * over real HTTP: OpenAI batch files without a model, files that are not UTF-8, folders with non-image
 * files, oversized items and empty files. The fake server checks every body against the OpenResponses
 * spec (a body that does not follow it gets a 400, which would end as a failed line).
 */
describe('run: inputs as users have them', () => {
  let fake: FakeServer;
  let rp: Respool;
  let messages: string[];
  const prefix = testPrefix();
  let dir: string;

  withLibrary(prefix, (s) => ({ fake, dir, rp, messages } = s));
  before(() => writeInputs(dir));
  beforeEach(() => {
    fake.reset();
    messages.length = 0;
  });

  /** Runs the job to its end: complete, no failed line (the command line's exit code 0); its lines by custom_id. */
  async function run(name: string, job: Omit<Job, 'name'>) {
    const done = await runJob(rp, { name, base_url: fake.url, out: `out/${name}.jsonl`, ...job });
    assert.equal(done.result.outcome, 'complete');
    assert.equal(done.result.failedLines, 0, JSON.stringify(done.result.unsuccessful));
    assert.equal(done.result.out, path.join(dir, 'out', `${name}.jsonl`));
    return { ...done, byId: byId(done.lines) };
  }
  /** True when some message the library logged matches. */
  const logged = (re: RegExp) => messages.some((m) => re.test(m));
  const log = () => messages.join('\n');

  it('a /v1/responses batch file without a model: each body is sent with its own model', async () => {
    const { byId: lines, result } = await run('responses-batch', { inputs: 'responses-batch.jsonl' });
    assert.equal(lines.get('r1')?.status, 'completed', JSON.stringify(lines.get('r1')));
    // The fake server answers with the model of the request it got.
    assert.equal(lines.get('r1')?.model, 'model-a');
    assert.equal(lines.get('r2')?.model, 'model-b');
    assert.equal(lines.get('r3')?.status, 'rejected');
    assert.match(lines.get('r3')?.error?.message ?? '', /^responses-batch\.jsonl:3: the request body names no model and the run has none/);
    assert.equal(result.enqueued.rejected, 1);
    assert.equal(fake.stats().requests, 2);
    assert.equal(fake.stats().byStatus['400'] ?? 0, 0);
    assert.ok(logged(/inputs of responses-batch: models model-a \(1\), model-b \(1\)/), log());
  });

  it('a /v1/responses batch file with a model: lines naming their own keep it, the others take the job\'s', async () => {
    const { byId: lines } = await run('responses-batch-m', { inputs: 'responses-batch.jsonl', model: 'flag-model' });
    assert.equal(lines.get('r1')?.model, 'model-a');
    assert.equal(lines.get('r3')?.model, 'flag-model');
    assert.ok(logged(/inputs of responses-batch-m: models flag-model \(1\), model-a \(1\), model-b \(1\)/), log());
  });

  it('a CSV without a model is still a settings error naming the field', () => {
    assert.throws(
      () => rp.run({ name: 'csv-no-model', inputs: 'one.csv', base_url: fake.url }),
      (err: unknown) => err instanceof ConfigError && /model: is required \(.*one\.csv is not JSONL/.test(err.message),
    );
  });

  it('a /v1/chat/completions batch file is converted to spec-valid Responses requests; what cannot be converted is rejected', async () => {
    const { lines: all, byId: lines } = await run('chat-batch', { inputs: 'chat-batch.jsonl' });
    assert.equal(all.length, countIds(all).size, 'one line per custom_id');
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
    const { byId: lines, result } = await run('photos', { inputs: 'photos', model: 'm' });
    assert.deepEqual([...lines.keys()].sort(), ['a.png', 'broken.jpg', 'sub/b.dat']);
    assert.equal(lines.get('a.png')?.status, 'completed');
    assert.equal(lines.get('sub/b.dat')?.status, 'completed');
    // Named like an image: the user meant it as one, so it is rejected with its reason.
    assert.equal(lines.get('broken.jpg')?.status, 'rejected');
    assert.equal(result.enqueued.read, 3);
    assert.ok(logged(/skipped 2 files that are not images/), log());
  });

  it('a glob over a folder skips them too; a non-image file named on its own is still rejected', async () => {
    const globbed = await run('photos-glob', { inputs: 'photos/**/*', model: 'm' });
    assert.deepEqual([...globbed.byId.keys()].sort(), ['a.png', 'broken.jpg', 'sub/b.dat']);
    assert.ok(logged(/skipped 2 files that are not images/), log());

    const { lines } = await run('readme', { inputs: 'photos/README.txt', model: 'm' });
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.status, 'rejected');
    assert.match(lines[0]?.error?.message ?? '', /photos\/README\.txt: not an image/);
  });

  it('Latin-1 CSV and JSONL: lines that are not valid UTF-8 are rejected naming file and line, the rest is sent', async () => {
    const { byId: lines } = await run('latin1-default', { inputs: ['latin1.csv', 'latin1.jsonl'], model: 'm', prompt: '{{text}}' });
    assert.equal(lines.get('l1')?.status, 'completed');
    assert.equal(lines.get('l3')?.status, 'completed');
    assert.equal(lines.get('l2')?.status, 'rejected', JSON.stringify(lines.get('l2')));
    assert.match(lines.get('l2')?.error?.message ?? '', /^latin1\.csv:3: the line is not valid UTF-8 \(set `encoding`/);
    assert.equal(lines.get('latin1.jsonl:2')?.status, 'rejected');
    assert.match(lines.get('latin1.jsonl:2')?.error?.message ?? '', /^latin1\.jsonl:2: the line is not valid UTF-8/);
    assert.equal(fake.stats().requests, 2, 'nothing with replacement characters was sent');
  });

  it('with encoding latin1 the same files are read as they were written, and the right characters arrive', async () => {
    const csv = await run('latin1-job', { inputs: ['latin1.csv'], model: 'm', prompt: '{{text}}', encoding: 'latin1' });
    assert.equal(csv.byId.get('l2')?.status, 'completed', JSON.stringify(csv.byId.get('l2')));
    assert.equal(csv.byId.get('l2')?.output_text, 'Echo: café crème € 5');

    const jsonlRun = await run('latin1-jsonl', { inputs: 'latin1.jsonl', model: 'm', encoding: 'latin1' });
    assert.equal(jsonlRun.byId.get('j2')?.output_text, 'Echo: naïve');
  });

  it('an item over max_item_bytes is rejected with its size, naming file and line', async () => {
    const { byId: lines } = await run('big', { inputs: 'big.csv', model: 'm', prompt: '{{text}}', max_item_bytes: 100 });
    assert.equal(lines.get('small')?.status, 'completed');
    assert.equal(lines.get('large')?.status, 'rejected');
    assert.equal(lines.get('large')?.error?.message, 'big.csv:3: the item is 500 bytes of text, over the limit of 100 bytes (max_item_bytes)');
    assert.equal(fake.stats().requests, 1);
  });

  it('by default an 11 MiB prompt is rejected, not queued and sent', async () => {
    const { byId: lines, result } = await run('huge', { inputs: 'huge.jsonl', model: 'm' });
    assert.equal(lines.get('fine')?.status, 'completed');
    assert.equal(lines.get('huge')?.status, 'rejected');
    assert.match(lines.get('huge')?.error?.message ?? '', /^huge\.jsonl:1: the item is 11534336 bytes of text, over the limit of 10485760 bytes/);
    assert.equal(result.enqueued.rejected, 1);
    assert.equal(fake.stats().requests, 1);
  });

  it('empty input files are warned about by name and counted', async () => {
    const { lines } = await run('empties', { inputs: ['empty.csv', 'header-only.csv', 'blank.jsonl', 'one.csv'], model: 'm', prompt: '{{text}}' });
    assert.equal(lines.length, 1);
    for (const file of ['empty.csv', 'header-only.csv', 'blank.jsonl']) assert.ok(logged(new RegExp(`${file.replace('.', '\\.')} has no items`)), log());
    assert.ok(logged(/3 empty files \(empty\.csv, header-only\.csv, blank\.jsonl\)/), log());
  });
});

/** What the command line adds: its start line, its exit code for bad settings, and the flags that reach the job. */
describe('respool run: inputs as users have them (command line)', () => {
  let fake: FakeServer;
  const prefix = testPrefix();
  let dir: string;

  withFakeServer(prefix, (s) => ({ fake, dir } = s));
  before(() => writeInputs(dir));

  const run = (name: string, args: string[]) =>
    runCli(['--prefix', prefix, 'run', '--name', name, '--base-url', fake.url, '--out', path.join(dir, 'out', `${name}.jsonl`), ...args], { cwd: dir });
  const results = async (name: string) => byId(await readLines(path.join(dir, 'out', `${name}.jsonl`)));

  it('a /v1/responses batch file with --model: the start line does not claim that model for every call', async () => {
    const res = await run('responses-batch-m', ['--input', 'responses-batch.jsonl', '--model', 'flag-model']);
    assert.equal(res.code, 0, res.stderr);
    const lines = await results('responses-batch-m');
    assert.equal(lines.get('r1')?.model, 'model-a');
    assert.equal(lines.get('r3')?.model, 'flag-model');
    assert.match(res.stderr, /run responses-batch-m: model flag-model \(batch request lines naming a model use theirs\)/);
    assert.match(res.stderr, /models flag-model \(1\), model-a \(1\), model-b \(1\)/);
  });

  it('a CSV without --model: exit 2, naming the field', async () => {
    const res = await run('csv-no-model', ['--input', 'one.csv']);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /model: is required \(one\.csv is not JSONL/);
  });

  it('--encoding and --max-item-bytes reach the job', async () => {
    const res = await run('flags', ['--input', 'latin1.csv', '--input', 'big.csv', '--model', 'm', '--prompt', '{{text}}', '--encoding', 'latin1', '--max-item-bytes', '100']);
    assert.equal(res.code, 0, res.stderr);
    const lines = await results('flags');
    assert.equal(lines.get('l2')?.output_text, 'Echo: café crème € 5');
    assert.equal(lines.get('small')?.status, 'completed');
    assert.equal(lines.get('large')?.error?.message, 'big.csv:3: the item is 500 bytes of text, over the limit of 100 bytes (max_item_bytes)');
  });
});
