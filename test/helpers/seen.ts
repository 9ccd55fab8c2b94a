import { statSync } from 'node:fs';
import { hostname } from 'node:os';
import { fingerprintOf } from '../../src/core/file-fingerprint.js';
import type { FileFingerprint } from '../../src/core/item.js';

/** The fingerprint enqueue records for a file as it is now (what a reader's image ref must carry). */
export function seenNow(file: string): FileFingerprint {
  return fingerprintOf(statSync(file), hostname());
}
