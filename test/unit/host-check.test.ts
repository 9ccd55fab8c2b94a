import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostAllowed, hostName } from '../../src/report/host-check.js';

describe('dashboard Host check', () => {
  it('reads the name of a Host header without its port', () => {
    assert.equal(hostName('LocalHost:3000'), 'localhost');
    assert.equal(hostName('[::1]:3000'), '[::1]');
    assert.equal(hostName('127.0.0.1'), '127.0.0.1');
    assert.equal(hostName(''), null);
    assert.equal(hostName(undefined), null);
    assert.equal(hostName(':3000'), null);
  });

  it('allows the loopback names and configured ones, nothing else', () => {
    for (const ok of ['127.0.0.1:3000', 'localhost', '[::1]:80']) assert.equal(hostAllowed(ok), true, ok);
    for (const bad of ['evil.example', 'localhost.evil.example', '127.0.0.2', '[::2]', undefined]) assert.equal(hostAllowed(bad), false, String(bad));
    assert.equal(hostAllowed('board.internal:8080', ['Board.Internal']), true);
    assert.equal(hostAllowed('other.internal', ['board.internal']), false);
  });
});
