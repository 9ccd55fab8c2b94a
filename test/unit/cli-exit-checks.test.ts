import assert from 'node:assert/strict';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { checkApiKey } from '../../src/cli/api-key.js';
import { checkInputs } from '../../src/pipeline/input-check.js';
import { describeUnsuccessful } from '../../src/cli/run-exit.js';
import { ConfigError } from '../../src/config/load.js';
import { checkRedisUrl } from '../../src/queue/connection.js';

const KEY = 'sk-test-0123456789abcdef';

describe('checkApiKey', () => {
  it('accepts a missing key, a plain key, and one with a trailing newline (the client trims it)', () => {
    assert.doesNotThrow(() => checkApiKey({}));
    assert.doesNotThrow(() => checkApiKey({ OPENRESPONSES_API_KEY: KEY }));
    assert.doesNotThrow(() => checkApiKey({ OPENRESPONSES_API_KEY: `${KEY}\r\n` }));
  });

  it('refuses CR, LF or NUL inside the key, naming the variable, never the key', () => {
    for (const [bad, what] of [[`${KEY}\r\nX-Other: 1`, /carriage return/], [`${KEY}\nsecond`, /line break/], [`${KEY}\0x`, /NUL/]] as const) {
      assert.throws(
        () => checkApiKey({ OPENRESPONSES_API_KEY: bad }),
        (err: Error) => err instanceof ConfigError && /OPENRESPONSES_API_KEY/.test(err.message) && what.test(err.message) && !err.message.includes('0123456789'),
      );
    }
  });
});

describe('checkRedisUrl', () => {
  it('accepts the documented forms', () => {
    for (const url of ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379/', 'redis://:pw@h:6379/2', 'rediss://u:pw@h:6380/15']) assert.doesNotThrow(() => checkRedisUrl(url, 'REDIS_URL'), url);
  });

  it('refuses a database that is not a number, without showing the password', () => {
    assert.throws(
      () => checkRedisUrl('redis://:hunter2@127.0.0.1:6379/abc', 'REDIS_URL'),
      (err: Error) => err instanceof ConfigError && /REDIS_URL: the database "abc"/.test(err.message) && !err.message.includes('hunter2'),
    );
  });

  it('refuses a URL that does not parse, without showing it', () => {
    assert.throws(
      () => checkRedisUrl('redis://:hunter2@127.0.0.1:port', 'REDIS_URL'),
      (err: Error) => err instanceof ConfigError && /REDIS_URL is not a valid URL/.test(err.message) && !err.message.includes('hunter2'),
    );
  });
});

describe('checkInputs', () => {
  it('passes a file, a folder and a pattern that matches', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'respool-check-'));
    await writeFile(path.join(dir, 'a.jsonl'), '{"prompt":"x"}\n');
    await mkdir(path.join(dir, 'imgs'));
    await checkInputs(['a.jsonl', 'imgs', '*.jsonl'], dir);
  });

  it('names every input that is missing, a broken link, or a pattern that matches nothing', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'respool-check-'));
    await writeFile(path.join(dir, 'a.jsonl'), '{"prompt":"x"}\n');
    await symlink(path.join(dir, 'gone.jsonl'), path.join(dir, 'link.jsonl'));
    await assert.rejects(checkInputs(['a.jsonl', 'nope.jsonl', 'link.jsonl', 'mount/*.png'], dir), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /nope\.jsonl: no such file or folder/);
      assert.match(err.message, /link\.jsonl: a symbolic link to something that does not exist/);
      assert.match(err.message, /mount\/\*\.png: the pattern matched no files/);
      assert.doesNotMatch(err.message, /a\.jsonl:/);
      return true;
    });
  });
});

describe('describeUnsuccessful', () => {
  it('failed lines only: the plain retry command', () => {
    assert.deepEqual(describeUnsuccessful('r1', { total: 2, byStatus: { failed: 2, incomplete: 0, invalid_output: 0 } }), { counts: '2 failed', retry: 'respool retry --name r1' });
  });

  it('other statuses: the retry command names them', () => {
    assert.deepEqual(describeUnsuccessful('r1', { total: 3, byStatus: { failed: 1, incomplete: 1, invalid_output: 1 } }), {
      counts: '1 failed, 1 incomplete, 1 invalid_output',
      retry: 'respool retry --name r1 --status failed,incomplete,invalid_output',
    });
  });
});
