/**
 * The identity of an image file between enqueue and the worker's read: the worker must send the file
 * that was checked at enqueue (type, size, confinement), not whatever the path leads to later. Pure.
 */
import type { FileFingerprint } from './item.js';

/** The fields of `fs.Stats` a fingerprint is made of. */
export interface FileIdentity {
  size: number;
  mtimeMs: number;
  ino: number;
  dev: number;
}

export function fingerprintOf(info: FileIdentity, host: string): FileFingerprint {
  return { size: info.size, mtime: Math.trunc(info.mtimeMs), ino: info.ino, dev: info.dev, host };
}

/**
 * null when `now` (the file the worker opened) is the file enqueued; else what differs. Inode and
 * device numbers are compared on the machine that enqueued only: the same file on shared storage
 * (NFS, a mounted bucket) can have other numbers on another machine.
 */
export function fingerprintMismatch(seen: FileFingerprint, now: FileIdentity, host: string): string | null {
  const differs: string[] = [];
  if (seen.host === host && (seen.ino !== now.ino || seen.dev !== now.dev)) differs.push('it is another file (inode)');
  if (seen.size !== now.size) differs.push(`its size is ${now.size} bytes, was ${seen.size}`);
  if (seen.mtime !== Math.trunc(now.mtimeMs)) differs.push('its modification time changed');
  return differs.length === 0 ? null : differs.join('; ');
}
