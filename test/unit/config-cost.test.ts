import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, envLayer, flagLayer, readJobFile, resolveConfig } from '../../src/config/load.js';
import { settingsWithPrices } from '../../src/queue/run-prices.js';

const base = { origin: 'job.yaml', values: { inputs: ['in.csv'], model: 'gpt-4o', name: 'r' } };

describe('config: max_cost and prices', () => {
  it('come from the job file, the environment and flags, flags last', () => {
    const c = resolveConfig([{ origin: 'job.yaml', values: { ...base.values, max_cost: 5, prices: 'a.json' } }, envLayer({ RESPOOL_MAX_COST: '7.5', RESPOOL_PRICES: 'b.json' }), flagLayer({ maxCost: '9' })]);
    assert.equal(c.max_cost, 9);
    assert.equal(c.prices, 'b.json');
  });

  it('a bad max_cost names the field and where it came from', () => {
    for (const [value, origin] of [['0', '--max-cost'], ['lots', '--max-cost']] as const) {
      assert.throws(() => resolveConfig([base, flagLayer({ maxCost: value })]), (e: unknown) => e instanceof ConfigError && e.message.includes('max_cost') && e.message.includes(`(from ${origin})`));
    }
  });

  it("a job file's prices path is relative to the job file; the file is read into the run's settings", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'respool-cfg-'));
    await mkdir(path.join(dir, 'jobs'));
    await writeFile(path.join(dir, 'jobs', 'j.yaml'), 'inputs: [x.csv]\nmodel: m\nprices: my-prices.json\nmax_cost: 3\n');
    await writeFile(path.join(dir, 'jobs', 'my-prices.json'), JSON.stringify({ models: { m: { input: 1, output: 2 } } }));
    const layer = await readJobFile('jobs/j.yaml', dir);
    assert.equal(layer.values.prices, path.join('jobs', 'my-prices.json'));
    const config = resolveConfig([{ ...layer, values: { ...layer.values, prices: path.join(dir, layer.values.prices as string) } }]);
    const settings = await settingsWithPrices(config);
    assert.equal(settings.maxCost, 3);
    assert.deepEqual(settings.prices, { models: { m: { input: 1, cached_input: 1, output: 2 } } });
    await writeFile(path.join(dir, 'jobs', 'my-prices.json'), JSON.stringify({ models: { m: { input: 1 } } }));
    await assert.rejects(settingsWithPrices(config), /models\.m\.output/);
  });
});
