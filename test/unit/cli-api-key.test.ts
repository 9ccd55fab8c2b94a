import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { missingApiKeyWarning } from '../../src/cli/api-key.js';

describe('missingApiKeyWarning', () => {
  it('is silent when OPENRESPONSES_API_KEY is set', () => {
    assert.equal(missingApiKeyWarning({ OPENRESPONSES_API_KEY: 'sk-abc', OPENAI_API_KEY: 'sk-other' }), null);
  });

  it('says calls go out without a key', () => {
    assert.equal(missingApiKeyWarning({}), 'OPENRESPONSES_API_KEY is not set: calls go out without a key');
  });

  it('with OPENAI_API_KEY set, says how to pass it, without printing it', () => {
    const secret = 'sk-proj-Zq8secretvalue123';
    const warning = missingApiKeyWarning({ OPENAI_API_KEY: secret })!;
    assert.match(warning, /OPENAI_API_KEY is set, but respool reads only OPENRESPONSES_API_KEY/);
    assert.ok(warning.includes('export OPENRESPONSES_API_KEY="$OPENAI_API_KEY"'), warning);
    assert.ok(!warning.includes(secret));
    assert.ok(!warning.includes('Zq8'));
  });
});
