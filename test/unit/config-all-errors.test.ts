import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, readJobFile, resolveConfig } from '../../src/config/load.js';

async function errorsOf(name: string, text: string): Promise<string[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'respool-cfg-'));
  const file = path.join(dir, name);
  await writeFile(file, text);
  await writeFile(path.join(dir, 'data.csv'), 'id,text\n1,hi\n');
  try {
    resolveConfig([await readJobFile(name, dir)]);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message.split('\n').slice(1);
  }
  assert.fail('the job file was accepted');
}

/** A job file with several mistakes names them all in one message, each with its line. */
describe('config: every mistake of a job file at once', () => {
  it('YAML: a wrong type, a cross-field rule, out = input and an incremental name too long, with lines', async () => {
    const errors = await errorsOf(
      'job.yaml',
      ['inputs: [data.csv]', 'model: m', 'concurrency: lots', 'samples: 3', 'out: data.csv', 'incremental: true', `name: ${'n'.repeat(60)}`, ''].join('\n'),
    );
    assert.deepEqual(errors, [
      '  - concurrency: Invalid input: expected number, received string (from job.yaml:3)',
      '  - samples: samples are voted on by label or answer: set labels or schema (or a json_schema request.text.format) (from job.yaml:4)',
      '  - out: data.csv is also an input (from job.yaml:5)',
      '  - name: at most 53 characters for an incremental job (its runs add -YYYY-MM-DD) (from job.yaml:7)',
    ]);
  });

  it('JSON: a nested field and an unknown key are placed on their lines', async () => {
    const job = { inputs: ['data.csv'], model: 'm', request: { temperature: 9 }, colour: 'red', out: 'data.csv' };
    const errors = await errorsOf('job.json', JSON.stringify(job, null, 2));
    assert.deepEqual(errors, [
      '  - request.temperature: Too big: expected number to be <=2 (from job.json:7)',
      '  - colour: Unrecognized key: "colour" (from job.json:9)',
      '  - out: data.csv is also an input (from job.json:10)',
    ]);
  });
});
