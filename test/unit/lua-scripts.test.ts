import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { declaredKeyCount, headerOf, loadLuaScript } from '../../src/queue/lua-commands.js';

const DIR = new URL('../../src/queue/commands/', import.meta.url);
const scripts = readdirSync(DIR).filter((f) => f.endsWith('.lua')).map((f) => f.slice(0, -4));

/** The constants each script takes, as the modules that define them pass them in. */
const CONSTANTS: Record<string, Record<string, number>> = {
  claimItems: { WRITTEN_BUCKET_HEX: 4, ANY_SOURCE: 8388608 },
  deliver: { WRITTEN_BUCKET_HEX: 4, ANY_SOURCE: 8388608 },
  claimCall: { WRITTEN_BUCKET_HEX: 4, ANY_SOURCE: 8388608 },
  markWritten: { WRITTEN_BUCKET_HEX: 4, ANY_SOURCE: 8388608 },
  ledgerStates: { WRITTEN_BUCKET_HEX: 4, ANY_SOURCE: 8388608 },
  seedWritten: { WRITTEN_BUCKET_HEX: 4, ANY_SOURCE: 8388608 },
  requeue: { WRITTEN_BUCKET_HEX: 4, ANY_SOURCE: 8388608 },
  supersededDue: { WRITTEN_BUCKET_HEX: 4, ANY_SOURCE: 8388608 },
  recordLines: { MAX_SAMPLES: 300 },
  budgetAcquire: { ADAPTIVE_GROWTH_PER_S: 0.05, REQUEST_MARGIN: 0.02, TOKEN_MARGIN: 0.03 },
  budgetSettle: { TOKEN_MARGIN: 0.03 },
  budgetLimited: { ADAPTIVE_FLOOR_RPM: 6, ADAPTIVE_CUT: 0.8, ADAPTIVE_CUT_EVERY_MS: 1000 },
};

describe('Lua scripts (src/queue/commands)', () => {
  it('are there', () => {
    assert.ok(scripts.length >= 20, `found ${scripts.length}`);
  });

  for (const name of scripts) {
    it(`${name}.lua: a header states KEYS, ARGV and Output, and the keys it declares are the keys it uses`, () => {
      const source = readFileSync(new URL(`${name}.lua`, DIR), 'utf8');
      const header = headerOf(source);
      assert.ok(header, 'opens with a --[[ ]] header');
      assert.match(header, /Input:/);
      assert.match(header, /Output:/);
      assert.match(header, /ARGV/);
      const { lua, keys } = loadLuaScript(name, CONSTANTS[name] ?? {});
      assert.equal(keys, declaredKeyCount(header));
      const body = lua.slice(lua.indexOf(']]') + 2);
      const used = [...body.matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1]));
      assert.equal(Math.max(0, ...used), keys, 'the highest KEYS index used is the last one declared');
      assert.doesNotMatch(lua, /\{\{\w+\}\}/, 'every constant is filled in');
      assert.doesNotMatch(lua, /^--- @include/m, 'every include is expanded');
    });
  }

  it('expands an include once, fills in constants, and refuses a constant missing or unused', () => {
    const { lua } = loadLuaScript('markWritten', CONSTANTS.markWritten);
    assert.equal(lua.match(/local function wkey/g)?.length, 1);
    assert.match(lua, /string\.sub\(id, 2, 1 \+ 4\)/);
    assert.match(lua, /local ANY_SOURCE = 8388608/);
    assert.throws(() => loadLuaScript('markWritten', { WRITTEN_BUCKET_HEX: 4 }), /ANY_SOURCE/);
    assert.throws(() => loadLuaScript('deliver', { ...CONSTANTS.deliver, EXTRA: 1 }), /EXTRA/);
  });

  it('reads the key count from a header and refuses gaps', () => {
    assert.equal(declaredKeyCount('\n  Input:\n    KEYS[1] a\n    KEYS[2] b\n    ARGV x\n'), 2);
    assert.equal(declaredKeyCount('\n  Input:\n    ARGV x\n'), 0);
    assert.throws(() => declaredKeyCount('\n    KEYS[1] a\n    KEYS[3] c\n'), /KEYS\[2\]/);
  });
});
