import assert from 'node:assert/strict';
import { copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import type { FakeServer } from '../../src/fake-server/index.js';
import type { Job, Respool } from '../../src/index.js';
import { ROOT, readLines, runCli, testPrefix } from '../helpers/cli.js';
import { withFakeServer } from '../helpers/fake-suite.js';
import { runJob, withLibrary } from '../helpers/library.js';

/**
 * Writes, under `dir`, a data folder (`data`: items.csv, items.jsonl, pics/) whose rows name images
 * inside it, outside it (`elsewhere`), through links, and by URL.
 */
async function writeData(dir: string): Promise<{ data: string; outside: string }> {
  const data = path.join(dir, 'data');
  const outside = path.join(dir, 'elsewhere');
  await mkdir(path.join(data, 'pics'), { recursive: true });
  await mkdir(outside, { recursive: true });
  const png = path.join(ROOT, 'test/fixtures/images/ok.png');
  await copyFile(png, path.join(data, 'pics', 'in.png'));
  await copyFile(png, path.join(outside, 'secret.png'));
  // A link inside the folder that points outside it: judged by where it really points.
  await symlink(path.join(outside, 'secret.png'), path.join(data, 'pics', 'link.png'));
  // A link inside the folder that points to another file inside it is fine.
  await symlink(path.join(data, 'pics', 'in.png'), path.join(data, 'pics', 'inner-link.png'));
  await writeFile(
    path.join(data, 'items.csv'),
    [
      'id,text,image',
      'ok,inside,pics/in.png',
      'inner-link,link inside,pics/inner-link.png',
      'dotdot,parent,../elsewhere/secret.png',
      'passwd,traversal,../../../../../../etc/passwd',
      `absolute,absolute,${path.join(outside, 'secret.png')}`,
      'link,link out,pics/link.png',
      'url,remote,https://example.com/cat.png',
    ].join('\n') + '\n',
  );
  await writeFile(
    path.join(data, 'items.jsonl'),
    [
      { custom_id: 'j-ok', text: 'fine', image: ['pics/in.png'] },
      { custom_id: 'j-many', text: 'one bad of two', image: ['pics/in.png', '/etc/passwd'] },
      { custom_id: 'j-link', input: 'linked', image: 'pics/link.png' },
    ]
      .map((l) => JSON.stringify(l))
      .join('\n') + '\n',
  );
  return { data, outside };
}

/**
 * Image paths named in CSV/JSONL files must stay inside the data file's folder or an allowed image
 * root; anything else is a rejected line and its bytes are never sent. Real files, real Redis, the
 * fake server over HTTP, the pipeline in process through the library.
 */
describe('image paths from input files are confined', () => {
  let fake: FakeServer;
  let rp: Respool;
  const prefix = testPrefix();
  let dir: string;
  let data: string;

  withLibrary(prefix, (s) => ({ fake, dir, rp } = s));
  before(async () => ({ data } = await writeData(dir)));

  const run = async (name: string, extra: Omit<Job, 'inputs'> = {}) => {
    const { result, lines } = await runJob(rp, {
      name, model: 'm', base_url: fake.url, attempts: 1, prompt: '{{text}}',
      inputs: [path.join(data, 'items.csv'), path.join(data, 'items.jsonl')], out: `${name}.jsonl`, ...extra,
    });
    // Rejected lines are not failed ones: the run is complete without any.
    assert.equal(result.outcome, 'complete');
    assert.equal(result.failedLines, 0);
    return { result, byId: new Map(lines.map((l) => [l.custom_id, l])) };
  };

  it('paths outside the data file folder are rejected lines with a clear reason; nothing outside is sent', async () => {
    fake.reset();
    const { result, byId } = await run('confined');
    assert.equal(byId.size, 10);
    for (const id of ['ok', 'inner-link', 'url', 'j-ok']) assert.equal(byId.get(id)?.status, 'completed', JSON.stringify(byId.get(id)));
    for (const id of ['dotdot', 'passwd', 'absolute', 'link', 'j-many', 'j-link']) {
      const l = byId.get(id)!;
      assert.equal(l.status, 'rejected', JSON.stringify(l));
      assert.equal(l.error?.type, 'rejected_input');
      assert.match(l.error!.message, /is outside the input file's folder and every allowed image root/);
      assert.match(l.error!.message, /items\.(csv|jsonl):\d+/);
    }
    assert.equal(result.totals.byStatus.rejected, 6);
    // Four items reached the API, none with the outside file's bytes in them.
    assert.equal(fake.stats().requests, 4);
  });

  it('image_roots allows a folder (relative to the library\'s cwd); a link into it is followed and accepted', async () => {
    fake.reset();
    const { byId } = await run('rooted', { image_roots: ['elsewhere'] });
    for (const id of ['dotdot', 'absolute', 'link', 'j-link']) assert.equal(byId.get(id)?.status, 'completed', JSON.stringify(byId.get(id)));
    // /etc is still not allowed.
    for (const id of ['passwd', 'j-many']) assert.match(byId.get(id)!.error!.message, /outside/);
    assert.equal(fake.stats().requests, 8);
  });
});

describe('image paths from input files are confined (command line)', () => {
  let fake: FakeServer;
  const prefix = testPrefix();
  let dir: string;
  let data: string;
  let outside: string;

  withFakeServer(prefix, (s) => ({ fake, dir } = s));
  before(async () => ({ data, outside } = await writeData(dir)));

  it('--image-root allows a folder', async () => {
    const res = await runCli([
      '--prefix', prefix, 'run', '--name', 'flag', '--model', 'm', '--base-url', fake.url, '--attempts', '1',
      '--input', path.join(data, 'items.csv'), '--prompt', '{{text}}', '--out', path.join(dir, 'flag.jsonl'), '--image-root', outside,
    ]);
    assert.equal(res.code, 0, res.stderr);
    const byId = new Map((await readLines(path.join(dir, 'flag.jsonl'))).map((l) => [l.custom_id, l]));
    assert.equal(byId.get('link')?.status, 'completed', JSON.stringify(byId.get('link')));
    assert.match(byId.get('passwd')!.error!.message, /outside/);
  });

  it('image_roots in a job file is relative to the job file', async () => {
    const job = path.join(data, 'job.json');
    await writeFile(job, JSON.stringify({ inputs: ['items.csv'], prompt: '{{text}}', model: 'm', image_roots: ['../elsewhere'], out: '../job.jsonl', attempts: 1 }));
    const res = await runCli(['--prefix', prefix, 'run', job, '--base-url', fake.url]);
    assert.equal(res.code, 0, res.stderr);
    const byId = new Map((await readLines(path.join(dir, 'job.jsonl'))).map((l) => [l.custom_id, l]));
    assert.equal(byId.get('dotdot')?.status, 'completed');
    assert.equal(byId.get('passwd')?.status, 'rejected');
  });
});
