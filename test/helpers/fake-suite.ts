import { after, before } from 'node:test';
import { startFakeServer, type FakeServer, type FakeServerOptions } from '../../src/fake-server/index.js';
import { tempDir } from './cli.js';
import { deletePrefix } from './redis-scan.js';

/**
 * The set-up most pipeline tests share, as `before`/`after` hooks of the enclosing `describe`: a fake
 * server and a temp folder, handed to `ready`; after the tests, the server is closed and every Redis
 * key under `prefix` is deleted.
 */
export function withFakeServer(prefix: string, ready: (s: { fake: FakeServer; dir: string }) => void, opts: FakeServerOptions = {}): void {
  let fake: FakeServer | undefined;
  before(async () => {
    fake = await startFakeServer(opts);
    ready({ fake, dir: await tempDir() });
  });
  after(async () => {
    await fake?.close();
    await deletePrefix(prefix);
  });
}
