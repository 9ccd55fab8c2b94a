import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULTS } from '../../src/config/defaults.js';
import { ConfigError, envLayer, flagLayer, readJobFile, resolveConfig, type ConfigLayer } from '../../src/config/load.js';
import { RUN_NAME_PATTERN } from '../../src/config/schema.js';

/** A job-file-like layer without touching the disk. */
function fileLayer(values: Record<string, unknown>, origin = 'job.yaml'): ConfigLayer {
  return { origin, values };
}

/** Resolves and returns the ConfigError message; fails when resolving succeeds. */
function configError(layers: ConfigLayer[]): string {
  try {
    resolveConfig(layers);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected resolveConfig to throw');
}

/** The message line about one field, e.g. "  - concurrency: ... (from --concurrency)". */
function issueLine(message: string, field: string): string {
  const line = message.split('\n').find((l) => l.startsWith(`  - ${field}: `));
  assert.ok(line, `no issue for ${field} in:\n${message}`);
  return line;
}

const MINIMAL = { inputs: ['data.csv'], model: 'm-1' };

describe('config: precedence', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'respool-config-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('uses the defaults when no layer sets a field', () => {
    const c = resolveConfig([fileLayer({ ...MINIMAL, name: 'plain' })]);
    assert.equal(c.base_url, DEFAULTS.base_url);
    assert.equal(c.concurrency, DEFAULTS.concurrency);
    assert.equal(c.attempts, DEFAULTS.attempts);
    assert.equal(c.timeout_ms, DEFAULTS.timeout_ms);
    assert.equal(c.backoff_ms, DEFAULTS.backoff_ms);
    assert.equal(c.max_backoff_ms, DEFAULTS.max_backoff_ms);
    assert.equal(c.max_image_bytes, DEFAULTS.max_image_bytes);
    assert.equal(c.detail, DEFAULTS.detail);
    assert.equal(c.image_prompt, DEFAULTS.image_prompt);
    assert.deepEqual(c.request, {});
  });

  it('job file < environment < flags, field by field', async () => {
    await writeFile(
      path.join(dir, 'layers.yaml'),
      [
        'inputs: [from-file.csv]',
        'model: file-model',
        'concurrency: 2',
        'attempts: 3',
        'timeout_ms: 5000',
        'base_url: http://file.example/v1',
        'request:',
        '  temperature: 0.2',
        '  max_output_tokens: 100',
        '',
      ].join('\n'),
    );
    const file = await readJobFile('layers.yaml', dir);
    const env = envLayer({
      RESPOOL_MODEL: 'env-model',
      RESPOOL_CONCURRENCY: '4',
      RESPOOL_TIMEOUT_MS: '',
      OPENRESPONSES_BASE_URL: 'http://env.example/v1',
    });
    const flags = flagLayer({ concurrency: '8', temperature: '0.7', input: ['from-flag.csv'] });
    const c = resolveConfig([file, env, flags]);

    assert.equal(c.concurrency, 8, 'flag beats environment and job file');
    assert.equal(c.model, 'env-model', 'environment beats job file');
    assert.equal(c.base_url, 'http://env.example/v1', 'environment beats job file');
    assert.equal(c.attempts, 3, 'job file beats the default');
    assert.equal(c.timeout_ms, 5000, 'an empty environment variable is ignored');
    assert.deepEqual(c.inputs, ['from-flag.csv'], 'flag inputs replace the job file inputs');
    // Nested settings merge key by key: the flag replaces temperature only.
    assert.deepEqual(c.request, { temperature: 0.7, max_output_tokens: 100 });
    assert.equal(c.name, 'layers');
  });

  it('the same layers in another order give another winner (later wins)', () => {
    const a = resolveConfig([fileLayer({ ...MINIMAL, name: 'x', attempts: 2 }), fileLayer({ attempts: 9 }, 'other.yaml')]);
    const b = resolveConfig([fileLayer({ attempts: 9 }, 'other.yaml'), fileLayer({ ...MINIMAL, name: 'x', attempts: 2 })]);
    assert.equal(a.attempts, 9);
    assert.equal(b.attempts, 2);
  });

  it('environment variables map to their fields and numbers are parsed', () => {
    const env = envLayer({ RESPOOL_ATTEMPTS: '7', RESPOOL_TIMEOUT_MS: '2500', RESPOOL_MODEL: 'e', UNRELATED: 'x' });
    assert.equal(env.origin, 'environment');
    assert.deepEqual(env.values, { attempts: 7, timeout_ms: 2500, model: 'e' });
  });

  it('flags map to job-file fields, nested ones included; an empty --input list is no setting', () => {
    const flags = flagLayer({ input: [], maxOutputTokens: '64', reasoningEffort: 'low', baseUrl: 'http://h/v1', idColumn: 'id', imagePrompt: 'p' });
    assert.deepEqual(flags.values, {
      request: { max_output_tokens: 64, reasoning: { effort: 'low' } },
      base_url: 'http://h/v1',
      id_column: 'id',
      image_prompt: 'p',
    });
  });
});

describe('config: readJobFile', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'respool-jobfile-'));
    await mkdir(path.join(dir, 'jobs'), { recursive: true });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads YAML, rebases paths from the job file folder to cwd, names the run after the file', async () => {
    await writeFile(
      path.join(dir, 'jobs', 'nightly.yaml'),
      ['inputs:', '  - data/a.csv', '  - ../shared/*.jsonl', '  - .', 'out: results/out.jsonl', 'model: m', 'concurrency: 3', ''].join('\n'),
    );
    const layer = await readJobFile('jobs/nightly.yaml', dir);
    assert.equal(layer.origin, 'jobs/nightly.yaml');
    assert.deepEqual(layer.values, {
      inputs: ['jobs/data/a.csv', 'shared/*.jsonl', 'jobs'],
      out: 'jobs/results/out.jsonl',
      model: 'm',
      concurrency: 3,
      name: 'nightly',
    });
  });

  it('a job file in cwd keeps its paths; "." stays "."', async () => {
    await writeFile(path.join(dir, 'here.yml'), 'inputs: [a.csv, .]\nmodel: m\n');
    const layer = await readJobFile('here.yml', dir);
    assert.deepEqual(layer.values.inputs, ['a.csv', '.']);
    assert.equal(layer.values.name, 'here');
  });

  it('reads JSON, turns a string `inputs` into an array, keeps an explicit name', async () => {
    await writeFile(path.join(dir, 'jobs', 'explicit.json'), JSON.stringify({ inputs: 'in.jsonl', model: 'm', name: 'given-name' }));
    const layer = await readJobFile(path.join('jobs', 'explicit.json'), dir);
    assert.deepEqual(layer.values.inputs, ['jobs/in.jsonl']);
    assert.equal(layer.values.name, 'given-name');
  });

  it('makes a valid run name from an awkward file name', async () => {
    await writeFile(path.join(dir, 'My Job (v2).json'), JSON.stringify({ inputs: ['x.csv'], model: 'm' }));
    const layer = await readJobFile('My Job (v2).json', dir);
    assert.equal(layer.values.name, 'My-Job-v2-');
    assert.match(String(layer.values.name), RUN_NAME_PATTERN);

    await writeFile(path.join(dir, '---.yaml'), 'inputs: [x.csv]\nmodel: m\n');
    const derived = await readJobFile('---.yaml', dir);
    assert.match(String(derived.values.name), /^run-[0-9a-f]{10}$/);
  });

  it('the resolved config of a job file carries its rebased paths', async () => {
    await writeFile(path.join(dir, 'jobs', 'full.yaml'), 'inputs: data.csv\nmodel: m\n');
    const c = resolveConfig([await readJobFile('jobs/full.yaml', dir)]);
    assert.deepEqual(c.inputs, ['jobs/data.csv']);
    assert.equal(c.name, 'full');
    assert.equal(c.out, path.join('out', 'full.jsonl'));
  });

  it('request settings of a job file (metadata on every call) reach the resolved config', async () => {
    await writeFile(path.join(dir, 'jobs', 'meta.yaml'), 'inputs: [data.csv]\nmodel: m\nrequest:\n  metadata: { dataset: colours, team: finance }\n');
    const c = resolveConfig([await readJobFile('jobs/meta.yaml', dir)]);
    assert.deepEqual(c.request.metadata, { dataset: 'colours', team: 'finance' });
  });

  it('refuses a missing file, bad YAML, bad JSON and a non-object', async () => {
    await assert.rejects(readJobFile('nope.yaml', dir), (err: Error) => err instanceof ConfigError && /cannot read job file nope\.yaml: ENOENT/.test(err.message));
    await writeFile(path.join(dir, 'bad.yaml'), 'inputs: [a\nmodel: : :\n');
    await assert.rejects(readJobFile('bad.yaml', dir), (err: Error) => err instanceof ConfigError && /bad\.yaml is not valid YAML/.test(err.message));
    await writeFile(path.join(dir, 'bad.json'), '{"inputs": ');
    await assert.rejects(readJobFile('bad.json', dir), (err: Error) => err instanceof ConfigError && /bad\.json is not valid JSON/.test(err.message));
    await writeFile(path.join(dir, 'list.yaml'), '- a\n- b\n');
    await assert.rejects(readJobFile('list.yaml', dir), (err: Error) => err instanceof ConfigError && /must hold an object/.test(err.message));
  });
});

describe('config: errors name the field and where it came from', () => {
  it('a non-numeric --concurrency', () => {
    const msg = configError([fileLayer({ ...MINIMAL, name: 'r' }), flagLayer({ concurrency: 'lots' })]);
    assert.match(issueLine(msg, 'concurrency'), /number/);
    assert.match(issueLine(msg, 'concurrency'), /\(from --concurrency\)$/);
  });

  it('a non-numeric RESPOOL_CONCURRENCY is named as coming from the environment', () => {
    const msg = configError([fileLayer({ ...MINIMAL, name: 'r' }), envLayer({ RESPOOL_CONCURRENCY: '4x' })]);
    assert.match(issueLine(msg, 'concurrency'), /\(from environment\)$/);
  });

  it('a base_url from the environment that is not http(s)', () => {
    const msg = configError([fileLayer({ ...MINIMAL, name: 'r' }), envLayer({ OPENRESPONSES_BASE_URL: 'ftp://files.example/v1' })]);
    assert.equal(issueLine(msg, 'base_url'), '  - base_url: must be an http(s) URL (from environment)');
  });

  it('request.max_output_tokens below 16, from the job file and from the flag', () => {
    const fromFile = configError([fileLayer({ ...MINIMAL, name: 'r', request: { max_output_tokens: 15 } }, 'jobs/a.yaml')]);
    assert.equal(issueLine(fromFile, 'request.max_output_tokens'), '  - request.max_output_tokens: the API requires at least 16 (from jobs/a.yaml)');
    const fromFlag = configError([fileLayer({ ...MINIMAL, name: 'r' }), flagLayer({ maxOutputTokens: '8' })]);
    assert.match(issueLine(fromFlag, 'request.max_output_tokens'), /at least 16 \(from --max-output-tokens\)$/);
    // 16 itself is allowed.
    assert.equal(resolveConfig([fileLayer({ ...MINIMAL, name: 'r' }), flagLayer({ maxOutputTokens: '16' })]).request.max_output_tokens, 16);
  });

  it('an unknown top-level key is named', () => {
    const msg = configError([fileLayer({ ...MINIMAL, name: 'r', concurency: 4 }, 'typo.yaml')]);
    assert.match(msg, /Unrecognized key: "concurency"/);
  });

  it(
    'an unknown top-level key names its origin (the job file)',
    () => {
      const msg = configError([fileLayer({ ...MINIMAL, name: 'r', concurency: 4 }, 'typo.yaml')]);
      assert.match(msg, /concurency.*\(from typo\.yaml\)/);
    },
  );

  it('an unknown nested key names the field and the job file', () => {
    const msg = configError([fileLayer({ ...MINIMAL, name: 'r', request: { temprature: 1 } }, 'typo.yaml')]);
    assert.match(issueLine(msg, 'request.temprature'), /Unrecognized key: "temprature" \(from typo\.yaml\)$/);
  });

  it('a missing model "is required" when an input is not JSONL', () => {
    const msg = configError([fileLayer({ inputs: ['a.csv'], name: 'r' })]);
    assert.equal(issueLine(msg, 'model'), '  - model: is required (a.csv is not JSONL; only JSONL request lines can name their own model)');
  });

  it('lists every bad field, not only the first', () => {
    const msg = configError([fileLayer({ inputs: [], name: 'r', attempts: 0 }), flagLayer({ detail: 'huge' })]);
    for (const field of ['inputs', 'model', 'attempts', 'detail']) issueLine(msg, field);
    assert.match(issueLine(msg, 'detail'), /\(from --detail\)$/);
    assert.match(issueLine(msg, 'attempts'), /\(from job\.yaml\)$/);
  });
});

describe('config: run names and the default results path', () => {
  const layers = (values: Record<string, unknown>) => [flagLayer(values)];

  it('derives a stable name from inputs, prompt and model', () => {
    const a = resolveConfig(layers({ input: ['a.csv'], prompt: 'Label {{text}}', model: 'm' }));
    const b = resolveConfig(layers({ input: ['a.csv'], prompt: 'Label {{text}}', model: 'm' }));
    assert.match(a.name, /^run-[0-9a-f]{10}$/);
    assert.equal(a.name, b.name);
  });

  it('a different input, prompt or model gives a different name', () => {
    const base = { input: ['a.csv'], prompt: 'Label {{text}}', model: 'm' };
    const names = new Set(
      [base, { ...base, input: ['b.csv'] }, { ...base, input: ['a.csv', 'b.csv'] }, { ...base, prompt: 'Other {{text}}' }, { ...base, model: 'm2' }].map(
        (v) => resolveConfig(layers(v)).name,
      ),
    );
    assert.equal(names.size, 5);
  });

  it('settings outside inputs/prompt/model do not change the derived name', () => {
    const a = resolveConfig(layers({ input: ['a.csv'], model: 'm' }));
    const b = resolveConfig(layers({ input: ['a.csv'], model: 'm', concurrency: '3', temperature: '1' }));
    assert.equal(a.name, b.name);
  });

  it('the results file defaults to out/<name>.jsonl; an explicit --out wins', () => {
    const derived = resolveConfig(layers({ input: ['a.csv'], model: 'm' }));
    assert.equal(derived.out, path.join(DEFAULTS.out_dir, `${derived.name}.jsonl`));
    const named = resolveConfig(layers({ input: ['a.csv'], model: 'm', name: 'my.run_1' }));
    assert.equal(named.out, 'out/my.run_1.jsonl');
    assert.equal(resolveConfig(layers({ input: ['a.csv'], model: 'm', name: 'n', out: 'elsewhere.jsonl' })).out, 'elsewhere.jsonl');
  });

  for (const bad of ['a:b', 'has space', '-leading-dash', '.hidden', '../up', 'a/b', 'x'.repeat(65), '', 'nul\0byte']) {
    it(`refuses the run name ${JSON.stringify(bad.length > 20 ? `${bad.slice(0, 8)}…(${bad.length})` : bad)}`, () => {
      const msg = configError(layers({ input: ['a.csv'], model: 'm', name: bad }));
      assert.match(issueLine(msg, 'name'), /\(from --name\)$/);
      assert.doesNotMatch(bad, RUN_NAME_PATTERN);
    });
  }

  it('accepts a 64-character name and the allowed punctuation', () => {
    for (const good of ['x'.repeat(64), 'a.b_c-d', '0run']) assert.equal(resolveConfig(layers({ input: ['a.csv'], model: 'm', name: good })).name, good);
  });
});

describe('config: the results file is not an input', () => {
  it('refuses an out path that is also one of the inputs', () => {
    assert.throws(
      () => resolveConfig([{ origin: 'flags', values: { inputs: ['data/a.jsonl'], model: 'm', out: 'data/a.jsonl' } }]),
      (err: unknown) => err instanceof ConfigError && /out: data\/a\.jsonl is also an input/.test(err.message),
    );
  });
});
